#include "codec/json_scan.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace aipool::codec {
namespace {

constexpr std::size_t kMaxDepth = 512;

class Scanner {
 public:
  // Reads the member `key` when it is given; checks the grammar alone otherwise.
  Scanner(std::string_view text, std::optional<std::string_view> key) : text_(text), key_(key) {}

  JsonMember run() {
    skip_space();
    const bool object = !at_end() && peek() == '{';
    if (at_end()) {
      fail("empty text");
    } else if (value(0)) {
      skip_space();
      if (!at_end()) {
        fail("text after the JSON value");
      } else if (!object) {
        result_.status = JsonMember::Status::kNotObject;
      }
    }
    return std::move(result_);
  }

  // Where and why run() failed (meaningful after it returned kInvalid).
  std::size_t failed_at() const { return fail_offset_; }
  const std::string& failure() const { return fail_reason_; }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  void skip_space() {
    while (!at_end()) {
      const char c = peek();
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  bool fail(const std::string& why) {
    result_.status = JsonMember::Status::kInvalid;
    result_.value.clear();
    result_.error = why + " at byte " + std::to_string(pos_);
    fail_offset_ = pos_;
    fail_reason_ = why;
    return false;
  }

  // Fails at the first byte that differs from `word`.
  bool literal(std::string_view word) {
    for (const char c : word) {
      if (at_end() || peek() != c) return fail("unexpected character");
      ++pos_;
    }
    return true;
  }

  bool number() {
    const std::size_t start = pos_;
    if (!at_end() && peek() == '-') ++pos_;
    if (at_end()) return fail("bad number");
    if (peek() == '0') {
      ++pos_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    } else {
      return fail("bad number");
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      const std::size_t digits = pos_;
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
      if (pos_ == digits) return fail("bad number");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      const std::size_t digits = pos_;
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
      if (pos_ == digits) return fail("bad number");
    }
    return pos_ > start;
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool hex4(std::uint32_t& out) {
    if (pos_ + 4 > text_.size()) return fail("bad \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex(text_[pos_ + static_cast<std::size_t>(i)]);
      if (h < 0) return fail("bad \\u escape");
      out = (out << 4) | static_cast<std::uint32_t>(h);
    }
    pos_ += 4;
    return true;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // A string starting at the opening quote. Decoded into `out` when it is not null.
  bool string(std::string* out) {
    ++pos_;  // the opening quote
    for (;;) {
      // Skip plain bytes quickly: only '"', '\\' and control characters stop us.
      const char* p = text_.data() + pos_;
      const char* end = text_.data() + text_.size();
      const char* q = p;
      while (q < end && *q != '"' && *q != '\\' && static_cast<unsigned char>(*q) >= 0x20) ++q;
      if (out != nullptr) out->append(p, static_cast<std::size_t>(q - p));
      pos_ = static_cast<std::size_t>(q - text_.data());
      if (at_end()) return fail("unterminated string");
      const char c = peek();
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c != '\\') return fail("control character in a string");
      ++pos_;
      if (at_end()) return fail("unterminated string");
      const char e = peek();
      ++pos_;
      char plain = 0;
      switch (e) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate wants its low half
            std::uint32_t low = 0;
            if (text_.substr(pos_, 2) != "\\u") return fail("lone surrogate in \\u escape");
            pos_ += 2;
            if (!hex4(low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) return fail("lone surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("lone surrogate in \\u escape");
          }
          if (out != nullptr) append_utf8(*out, cp);
          continue;
        }
        default: return fail("bad escape");
      }
      if (out != nullptr) *out += plain;
    }
  }

  // One value at `depth` (0: the top level).
  bool value(std::size_t depth) {
    skip_space();
    if (at_end()) return fail("value expected");
    switch (peek()) {
      case '{': return object(depth);
      case '[': return array(depth);
      case '"': return string(nullptr);
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return number();
    }
  }

  bool object(std::size_t depth) {
    if (depth >= kMaxDepth) return fail("nesting too deep");
    ++pos_;  // '{'
    skip_space();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return true;
    }
    std::string name;
    for (;;) {
      skip_space();
      if (at_end() || peek() != '"') return fail("member name expected");
      name.clear();
      if (!string(depth == 0 && key_ ? &name : nullptr)) return false;
      skip_space();
      if (at_end() || peek() != ':') return fail("':' expected");
      ++pos_;
      skip_space();
      if (depth == 0 && key_ && name == *key_) {
        if (!at_end() && peek() == '"') {
          std::string decoded;
          if (!string(&decoded)) return false;
          result_.status = JsonMember::Status::kFound;
          result_.value = std::move(decoded);
        } else {
          if (!value(depth + 1)) return false;
          result_.status = JsonMember::Status::kNotString;
          result_.value.clear();
        }
      } else if (!value(depth + 1)) {
        return false;
      }
      bool more = false;
      if (!separator('}', more)) return false;
      if (!more) return true;
    }
  }

  bool array(std::size_t depth) {
    if (depth >= kMaxDepth) return fail("nesting too deep");
    ++pos_;  // '['
    skip_space();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      if (!value(depth + 1)) return false;
      bool more = false;
      if (!separator(']', more)) return false;
      if (!more) return true;
    }
  }

  // After a member or an element: ',' means `more`, `close` ends the container.
  bool separator(char close, bool& more) {
    skip_space();
    if (!at_end() && (peek() == ',' || peek() == close)) {
      more = peek() == ',';
      ++pos_;
      return true;
    }
    std::string why = "',' or '";
    why += close;
    why += "' expected";
    return fail(why);
  }

  std::string_view text_;
  std::optional<std::string_view> key_;
  std::size_t pos_ = 0;
  JsonMember result_;
  std::size_t fail_offset_ = 0;  // where the last failure happened
  std::string fail_reason_;
};

}  // namespace

JsonMember top_level_string_member(std::string_view json, std::string_view key) {
  return Scanner(json, key).run();
}

std::optional<JsonSyntaxError> json_syntax_error(std::string_view json) {
  Scanner scanner(json, std::nullopt);
  if (scanner.run().status != JsonMember::Status::kInvalid) return std::nullopt;
  return JsonSyntaxError{scanner.failed_at(), scanner.failure()};
}

}  // namespace aipool::codec
