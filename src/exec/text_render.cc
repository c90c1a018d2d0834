#include "exec/text_render.h"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace aipool::exec {
namespace {

// splitmix64 (Steele, Lea, Flood 2014): our own generator, so the background of a
// seed is the same on every platform and library version (MODEL-11).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

// MODEL-11: the background and ink of one seed.
struct Palette {
  bool dark = false;
  std::uint8_t from[3] = {0, 0, 0};
  std::uint8_t to[3] = {0, 0, 0};
  std::int64_t dx = 0;  // gradient direction, each -100..100
  std::int64_t dy = 0;
  std::uint8_t ink() const { return dark ? 255 : 0; }
};

Palette palette_of(std::int64_t seed) {
  SplitMix64 rng(static_cast<std::uint64_t>(seed));
  Palette p;
  p.dark = (rng.next() & 1) != 0;
  const auto channel = [&] {
    const auto v = static_cast<std::uint8_t>(rng.next() % 96);
    return p.dark ? v : static_cast<std::uint8_t>(160 + v);
  };
  for (std::uint8_t& c : p.from) c = channel();
  for (std::uint8_t& c : p.to) c = channel();
  p.dx = static_cast<std::int64_t>(rng.next() % 201) - 100;
  p.dy = static_cast<std::int64_t>(rng.next() % 201) - 100;
  return p;
}

// A linear gradient from `from` to `to` along (dx, dy), integer arithmetic only.
void fill_background(media::Image& image, const Palette& p) {
  const std::int64_t w = image.width;
  const std::int64_t h = image.height;
  std::int64_t lo = 0;
  std::int64_t hi = 0;
  for (const std::int64_t x : {std::int64_t{0}, w - 1}) {
    for (const std::int64_t y : {std::int64_t{0}, h - 1}) {
      const std::int64_t v = p.dx * x + p.dy * y;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  const std::int64_t span = hi - lo;
  std::uint8_t* out = image.pixels.data();
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t x = 0; x < w; ++x) {
      const std::int64_t t = p.dx * x + p.dy * y - lo;  // 0..span
      for (int c = 0; c < 3; ++c) {
        std::int64_t v = p.from[c];
        if (span > 0) v = (p.from[c] * (span - t) + p.to[c] * t + span / 2) / span;
        *out++ = static_cast<std::uint8_t>(v);
      }
    }
  }
}

// UTF-8 to code points: invalid bytes become U+FFFD; tabs become spaces; other
// control characters but newlines are dropped; at most `limit` code points.
std::u32string decode_utf8(std::string_view text, std::size_t limit) {
  std::u32string out;
  std::size_t i = 0;
  while (i < text.size() && out.size() < limit) {
    const auto b = static_cast<unsigned char>(text[i]);
    char32_t cp = 0xFFFD;
    std::size_t len = 1;
    if (b < 0x80) {
      cp = b;
    } else if ((b >> 5) == 0x6 || (b >> 4) == 0xE || (b >> 3) == 0x1E) {
      len = (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : 4;
      cp = b & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
      bool ok = i + len <= text.size();
      for (std::size_t k = 1; ok && k < len; ++k) {
        const auto c = static_cast<unsigned char>(text[i + k]);
        ok = (c >> 6) == 0x2;
        cp = (cp << 6) | (c & 0x3F);
      }
      const char32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
      if (!ok || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        cp = 0xFFFD;
        len = 1;
      }
    }
    i += len;
    if (cp == '\t') cp = ' ';
    if (cp == '\n' || cp >= 0x20) {
      if (cp != 0x7F) out.push_back(cp);
    }
  }
  return out;
}

class FreeTypeFace {
 public:
  explicit FreeTypeFace(const std::string& font) {
    if (FT_Init_FreeType(&library_) != 0) throw std::runtime_error("FreeType cannot start");
    if (FT_New_Memory_Face(library_, reinterpret_cast<const FT_Byte*>(font.data()),
                           static_cast<FT_Long>(font.size()), 0, &face_) != 0) {
      FT_Done_FreeType(library_);
      throw std::runtime_error("FreeType cannot read the font");
    }
  }
  ~FreeTypeFace() {
    FT_Done_Face(face_);
    FT_Done_FreeType(library_);
  }
  FreeTypeFace(const FreeTypeFace&) = delete;
  FreeTypeFace& operator=(const FreeTypeFace&) = delete;

  void set_size(int pixels) {
    if (FT_Set_Pixel_Sizes(face_, 0, static_cast<FT_UInt>(pixels)) != 0) {
      throw std::runtime_error("FreeType cannot set the font size");
    }
    advances_.clear();
  }
  int line_height() const { return static_cast<int>(face_->size->metrics.height >> 6); }
  int ascender() const { return static_cast<int>(face_->size->metrics.ascender >> 6); }

  FT_UInt index(char32_t cp) { return FT_Get_Char_Index(face_, cp); }
  // Hinted advance in pixels.
  int advance(char32_t cp) {
    auto it = advances_.find(cp);
    if (it != advances_.end()) return it->second;
    int value = 0;
    if (FT_Load_Glyph(face_, index(cp), FT_LOAD_DEFAULT) == 0) {
      value = static_cast<int>((face_->glyph->advance.x + 32) >> 6);
    }
    advances_.emplace(cp, value);
    return value;
  }
  int kerning(char32_t left, char32_t right) {
    if (!FT_HAS_KERNING(face_)) return 0;
    FT_Vector delta{0, 0};
    if (FT_Get_Kerning(face_, index(left), index(right), FT_KERNING_DEFAULT, &delta) != 0) return 0;
    return static_cast<int>(delta.x >> 6);
  }
  int width(std::u32string_view text) {
    int w = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (i > 0) w += kerning(text[i - 1], text[i]);
      w += advance(text[i]);
    }
    return w;
  }
  // Renders the glyph; nullptr when it has no bitmap.
  FT_GlyphSlot render(char32_t cp) {
    if (FT_Load_Glyph(face_, index(cp), FT_LOAD_RENDER) != 0) return nullptr;
    return face_->glyph;
  }

 private:
  FT_Library library_ = nullptr;
  FT_Face face_ = nullptr;
  std::unordered_map<char32_t, int> advances_;
};

// Greedy word wrap to `max_width` pixels; a word wider than a line is broken.
std::vector<std::u32string> wrap(FreeTypeFace& face, const std::u32string& text, int max_width) {
  std::vector<std::u32string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(U'\n', start);
    if (end == std::u32string::npos) end = text.size();
    const std::u32string paragraph = text.substr(start, end - start);
    std::u32string line;
    std::size_t pos = 0;
    while (pos < paragraph.size()) {
      while (pos < paragraph.size() && paragraph[pos] == U' ') ++pos;
      if (pos >= paragraph.size()) break;
      std::size_t stop = paragraph.find(U' ', pos);
      if (stop == std::u32string::npos) stop = paragraph.size();
      std::u32string word = paragraph.substr(pos, stop - pos);
      pos = stop;
      std::u32string candidate = line.empty() ? word : line + U' ' + word;
      if (face.width(candidate) <= max_width) {
        line = std::move(candidate);
        continue;
      }
      if (!line.empty()) lines.push_back(std::move(line));
      line.clear();
      while (face.width(word) > max_width && word.size() > 1) {
        std::size_t n = 1;
        int w = face.advance(word[0]);
        while (n < word.size()) {
          const int next = w + face.kerning(word[n - 1], word[n]) + face.advance(word[n]);
          if (next > max_width) break;
          w = next;
          ++n;
        }
        lines.push_back(word.substr(0, n));
        word.erase(0, n);
      }
      line = std::move(word);
    }
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

// The text's coverage (0..255 per pixel), centred, at the largest size that fits.
std::vector<std::uint8_t> text_mask(const std::string& font, std::string_view prompt, std::uint32_t width,
                                    std::uint32_t height) {
  std::vector<std::uint8_t> mask(std::size_t{width} * height, 0);
  const std::u32string text = decode_utf8(prompt, TextRenderExecutor::kMaxCharacters);
  bool blank = true;
  for (char32_t c : text) blank = blank && (c == U' ' || c == U'\n');
  if (blank) return mask;
  const int w = static_cast<int>(width);
  const int h = static_cast<int>(height);
  const int margin = std::max(2, std::min(w, h) / 16);
  const int box_w = std::max(1, w - 2 * margin);
  const int box_h = std::max(1, h - 2 * margin);
  FreeTypeFace face(font);
  int size = std::clamp(std::min(w, h) / 8, TextRenderExecutor::kMinFontPixels, 512);
  std::vector<std::u32string> lines;
  for (;;) {
    face.set_size(size);
    lines = wrap(face, text, box_w);
    const auto needed = static_cast<std::int64_t>(lines.size()) * face.line_height();
    if (needed <= box_h || size == TextRenderExecutor::kMinFontPixels) break;
    size = std::max(TextRenderExecutor::kMinFontPixels, std::min(size - 1, size * 85 / 100));
  }
  const int line_h = std::max(1, face.line_height());
  const std::size_t fit = static_cast<std::size_t>(std::max(1, box_h / line_h));
  if (lines.size() > fit) lines.resize(fit);  // at the smallest size: what fits
  const int block_h = static_cast<int>(lines.size()) * line_h;
  const int top = margin + std::max(0, (box_h - block_h) / 2);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::u32string& line = lines[i];
    const int baseline = top + static_cast<int>(i) * line_h + face.ascender();
    int pen = margin + std::max(0, (box_w - face.width(line)) / 2);
    for (std::size_t j = 0; j < line.size(); ++j) {
      if (j > 0) pen += face.kerning(line[j - 1], line[j]);
      const FT_GlyphSlot glyph = face.render(line[j]);
      if (glyph != nullptr && glyph->bitmap.pixel_mode == FT_PIXEL_MODE_GRAY) {
        const FT_Bitmap& bitmap = glyph->bitmap;
        const int left = pen + glyph->bitmap_left;
        const int gtop = baseline - glyph->bitmap_top;
        for (int by = 0; by < static_cast<int>(bitmap.rows); ++by) {
          const int y = gtop + by;
          if (y < 0 || y >= h) continue;
          const unsigned char* src = bitmap.buffer + static_cast<std::ptrdiff_t>(by) * bitmap.pitch;
          for (int bx = 0; bx < static_cast<int>(bitmap.width); ++bx) {
            const int x = left + bx;
            if (x < 0 || x >= w) continue;
            std::uint8_t& m = mask[static_cast<std::size_t>(y) * width + static_cast<std::size_t>(x)];
            m = std::max(m, static_cast<std::uint8_t>(src[bx]));
          }
        }
      }
      pen += face.advance(line[j]);
    }
  }
  return mask;
}

media::Image compose(const std::vector<std::uint8_t>& mask, std::int64_t seed, std::uint32_t width,
                     std::uint32_t height) {
  media::Image image;
  image.width = width;
  image.height = height;
  image.channels = 3;
  image.pixels.resize(std::size_t{width} * height * 3);
  const Palette palette = palette_of(seed);
  fill_background(image, palette);
  const unsigned ink = palette.ink();
  for (std::size_t i = 0; i < mask.size(); ++i) {
    const unsigned a = mask[i];
    if (a == 0) continue;
    for (int c = 0; c < 3; ++c) {
      std::uint8_t& px = image.pixels[3 * i + static_cast<std::size_t>(c)];
      px = static_cast<std::uint8_t>((px * (255 - a) + ink * a + 127) / 255);
    }
  }
  return image;
}

}  // namespace

TextRenderExecutor::TextRenderExecutor(Options options) : options_(std::move(options)) {
  const bool default_font = options_.font_path.empty();
  if (default_font) options_.font_path = std::string(kDefaultFontPath);
  const std::string hint = default_font ? " (install the Debian package fonts-dejavu-core)" : "";
  std::ifstream in(options_.font_path, std::ios::binary);
  if (!in) throw std::runtime_error("builtin/text-render: cannot read the font " + options_.font_path + hint);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  font_ = bytes.str();
  try {
    FreeTypeFace check(font_);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("builtin/text-render: " + options_.font_path + " is not a usable font: " + e.what());
  }
}

bool TextRenderExecutor::supports(const Key& key) const {
  return key.model == kModel && key.pipeline == Pipeline::kTextToImage;
}

media::Image TextRenderExecutor::render(std::string_view prompt, std::int64_t seed, std::uint32_t width,
                                        std::uint32_t height) const {
  check_output_size(width, height, options_.limits);
  return compose(text_mask(font_, prompt, width, height), seed, width, height);
}

ExecResult TextRenderExecutor::run(const ExecRequest& request) const {
  try {
    if (!supports(request.key)) return job_failure("builtin/text-render: " + key_name(request.key) + " is not served");
    const JobRequest job(request);
    const std::string prompt = job.string_or("prompt", "");
    const auto width = static_cast<std::uint32_t>(job.int_or("width", 1024, 1, 1 << 20));
    const auto height = static_cast<std::uint32_t>(job.int_or("height", 576, 1, 1 << 20));
    const std::int64_t seed = job.seed();
    const int images = job.num_images();
    check_output_size(width, height, options_.limits);
    const std::vector<std::uint8_t> mask = text_mask(font_, prompt, width, height);  // the same for every image
    std::vector<Payload> pngs;
    for (int k = 0; k < images; ++k) {
      const media::Image image = compose(mask, seed_plus(seed, k), width, height);
      pngs.push_back(std::make_shared<const std::string>(media::encode_png(image, options_.png)));
    }
    return image_result(pngs, seed);
  } catch (const JobError& e) {
    return job_failure(e.what());
  } catch (const std::exception& e) {
    return job_failure(std::string("builtin/text-render: ") + e.what());
  }
}

void TextRenderExecutor::execute(const ExecRequest& request, std::function<void(ExecResult)> done) {
  done(run(request));
}

}  // namespace aipool::exec
