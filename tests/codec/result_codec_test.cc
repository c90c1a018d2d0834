// Tests of src/net/result_codec.h: the two body forms of POST /aiResults, encoded by
// the worker and decoded by the orchestrator (RES-2, RES-3, RES-6).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "codec/base64.h"
#include "codec/multipart.h"
#include "codec/result_codec.h"

namespace {

using aipool::Payload;
using aipool::Pipeline;
using aipool::ResultBody;
using aipool::ResultFile;
using aipool::TaskId;
using namespace aipool::codec;
namespace codec = aipool::codec;

Payload bytes_of(std::string text) { return std::make_shared<const std::string>(std::move(text)); }

// Proves a success in the JSON form decodes to the same task and response JSON (RES-2).
TEST(ResultCodec, JsonFormSuccessRoundTrips) {
  const std::string response = R"({"text":"hello \"world\"","chunks":[]})";
  const codec::EncodedPost post = codec::encode_json_result(Pipeline::kAudioToText, 42, true, response, "");
  EXPECT_EQ(post.content_type, "application/json");
  EXPECT_NE(post.joined().find("\"JobType\":4"), std::string::npos) << post.joined();
  EXPECT_NE(post.joined().find("\"TaskID\":42"), std::string::npos) << post.joined();
  EXPECT_NE(post.joined().find("\"Data\":\"" + codec::base64_encode(response) + "\""), std::string::npos) << post.joined();
  const codec::DecodeResult decoded = codec::decode_result(post.content_type, std::nullopt, post.joined());
  ASSERT_TRUE(decoded.post.has_value()) << decoded.failure.message;
  EXPECT_EQ(decoded.post->task, 42);
  EXPECT_TRUE(decoded.post->ok);
  ASSERT_NE(decoded.post->body.json, nullptr);
  EXPECT_EQ(*decoded.post->body.json, response);
  EXPECT_TRUE(decoded.post->body.files.empty());
}

// Proves a non-empty Err makes the post a worker error carrying that text, escaped safely (RES-2).
TEST(ResultCodec, JsonFormErrorRoundTrips) {
  const std::string error = "worker at capacity \"quoted\"\n\tand \x01 control";
  const codec::EncodedPost post = codec::encode_json_result(Pipeline::kTextToImage, 7, false, "", error);
  const codec::DecodeResult decoded = codec::decode_result(post.content_type, std::string_view("7"), post.joined());
  ASSERT_TRUE(decoded.post.has_value()) << decoded.failure.message;
  EXPECT_EQ(decoded.post->task, 7);
  EXPECT_FALSE(decoded.post->ok);
  EXPECT_EQ(decoded.post->error, error);
}

// Proves an error result with an empty text still reads as a worker error, never as a success (RES-2).
TEST(ResultCodec, JsonFormEmptyErrorTextStillFails) {
  const codec::EncodedPost post = codec::encode_json_result(Pipeline::kUpscale, 3, false, "", "");
  const codec::DecodeResult decoded = codec::decode_result(post.content_type, std::nullopt, post.joined());
  ASSERT_TRUE(decoded.post.has_value()) << decoded.failure.message;
  EXPECT_FALSE(decoded.post->ok);
  EXPECT_FALSE(decoded.post->error.empty());
}

// Proves the binary form carries each file part by name and type and the one JSON part (RES-3).
TEST(ResultCodec, MultipartFormRoundTrips) {
  ResultBody body;
  body.json = bytes_of(R"({"images":[{"url":"a.png","seed":1,"nsfw":false},{"url":"b.png","seed":2,"nsfw":false}]})");
  std::string binary("\x89PNG\r\n\x1a\n\0\r\n--not-a-boundary\r\n", 29);
  body.files.push_back(ResultFile{"a.png", "image/png", bytes_of(binary)});
  body.files.push_back(ResultFile{"b.png", "image/png", bytes_of("")});
  const codec::EncodedPost post = codec::encode_multipart_result(body);
  EXPECT_EQ(post.content_type.rfind("multipart/mixed; boundary=", 0), 0u) << post.content_type;
  const codec::DecodeResult decoded = codec::decode_result(post.content_type, std::string_view("99"), post.joined());
  ASSERT_TRUE(decoded.post.has_value()) << decoded.failure.message;
  EXPECT_EQ(decoded.post->task, 99);
  EXPECT_TRUE(decoded.post->ok);
  EXPECT_EQ(*decoded.post->body.json, *body.json);
  ASSERT_EQ(decoded.post->body.files.size(), 2u);
  EXPECT_EQ(decoded.post->body.files[0].name, "a.png");
  EXPECT_EQ(decoded.post->body.files[0].content_type, "image/png");
  EXPECT_EQ(*decoded.post->body.files[0].bytes, binary);
  EXPECT_EQ(decoded.post->body.files[1].name, "b.png");
  EXPECT_EQ(*decoded.post->body.files[1].bytes, "");
}

// Proves the binary form neither copies a file to send it nor to decode it: the
// encoded body's file piece is the result's own buffer, and the decoded file is a
// range of the received body (RES-3).
TEST(ResultCodec, MultipartFilesAreSharedNotCopied) {
  ResultBody body;
  body.json = bytes_of(R"({"images":[{"url":"big.bin","seed":0,"nsfw":false}]})");
  const Payload big = bytes_of(std::string(300'000, 'z') + "\r\n--tail");
  body.files.push_back(ResultFile{"big.bin", "application/octet-stream", big});
  const codec::EncodedPost post = codec::encode_multipart_result(body);
  bool shared = false;
  for (const aipool::SharedBytes& piece : post.pieces) shared = shared || piece->data() == big->data();
  EXPECT_TRUE(shared) << "the file was copied into the encoded body";
  std::size_t total = 0;
  for (const aipool::SharedBytes& piece : post.pieces) total += piece->size();
  EXPECT_EQ(post.size(), total);
  EXPECT_EQ(post.joined().size(), total);

  const Payload received = bytes_of(post.joined());
  const codec::DecodeResult decoded = codec::decode_result(post.content_type, std::string_view("5"), received);
  ASSERT_TRUE(decoded.post.has_value()) << decoded.failure.message;
  ASSERT_EQ(decoded.post->body.files.size(), 1u);
  const std::string_view file = *decoded.post->body.files[0].bytes;
  EXPECT_EQ(file, *big);
  EXPECT_GE(file.data(), received->data());
  EXPECT_LE(file.data() + file.size(), received->data() + received->size());
}

// Proves a part's Content-Length is used to find its end without scanning the content
// when a delimiter is exactly there, and that a wrong or unreadable length falls back
// to the first delimiter (RES-3).
TEST(Multipart, DeclaredLengthIsTakenOnlyWhenADelimiterEndsIt) {
  const auto body_with = [](const std::string& length_header, const std::string& content) {
    return "--B\r\nContent-Type: image/png\r\n" + length_header + "\r\n" + content + "\r\n--B\r\n" +
           "Content-Type: application/json\r\n\r\n{}\r\n--B--\r\n";
  };
  // The length covers text that looks like a delimiter: the content keeps it.
  // Parts are views into the body (multipart.h): each body outlives its result.
  const std::string tricky = "abc\r\n--Bxyz";
  std::string body = body_with("Content-Length: " + std::to_string(tricky.size()) + "\r\n", tricky);
  codec::MultipartResult r = codec::parse_multipart(body, "B");
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.parts.size(), 2u);
  EXPECT_EQ(r.parts[0].content, tricky);
  EXPECT_EQ(r.parts[1].content, "{}");
  for (const std::string header : {"Content-Length: 3\r\n", "Content-Length: 999\r\n", "Content-Length: 1x\r\n",
                                   "Content-Length: -1\r\n", "Content-Length: \r\n", ""}) {
    body = body_with(header, "hello");
    r = codec::parse_multipart(body, "B");
    ASSERT_TRUE(r.error.empty()) << header << r.error;
    ASSERT_EQ(r.parts.size(), 2u) << header;
    EXPECT_EQ(r.parts[0].content, "hello") << header;
  }
  body = body_with("Content-Length: 5\r\n", "hello");
  r = codec::parse_multipart(body, "B");
  EXPECT_EQ(r.parts[0].content, "hello");
}

// Proves SharedBytes is a whole buffer or a range inside it, and refuses a range
// outside its owner instead of pointing past it.
TEST(SharedBytes, WholeRangeAndRefusedRange) {
  const Payload owner = bytes_of("hello world");
  const aipool::SharedBytes whole(owner);
  EXPECT_TRUE(static_cast<bool>(whole));
  EXPECT_EQ(*whole, "hello world");
  const aipool::SharedBytes range(owner, std::string_view(*owner).substr(6, 5));
  EXPECT_TRUE(static_cast<bool>(range));
  EXPECT_EQ(*range, "world");
  EXPECT_EQ(range->data(), owner->data() + 6);
  const std::string other = "elsewhere";
  const aipool::SharedBytes outside(owner, other);
  EXPECT_FALSE(static_cast<bool>(outside));
  EXPECT_TRUE(outside->empty());
  const aipool::SharedBytes overlong(owner, std::string_view(owner->data() + 6, 6));
  EXPECT_FALSE(static_cast<bool>(overlong));
  const aipool::SharedBytes none;
  EXPECT_FALSE(static_cast<bool>(none));
  EXPECT_TRUE(none->empty());
}

// Proves malformed bodies whose task is known report that task, so the attempt ends as a worker error (RES-6).
TEST(ResultCodec, DecodeErrorsWithIdentifiableTask) {
  struct Case {
    std::string content_type;
    std::optional<std::string> task_header;
    std::string body;
    std::string expect_in_message;
  };
  const Case cases[] = {
      {"application/json", "5", "{not json", "not a JSON object"},
      {"application/json", std::nullopt, R"({"TaskID":5,"Data":"!!!!","Err":""})", "not valid base64"},
      {"application/json", std::nullopt, R"({"TaskID":5,"Data":"","Err":""})", "no result"},
      {"multipart/mixed; boundary=b", "5",
       "--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"x.png\"\r\n\r\nxx\r\n--b--\r\n",
       "no application/json part"},
      {"multipart/mixed", "5", "--b\r\n\r\n--b--\r\n", "without a boundary"},
      {"multipart/mixed; boundary=b", "5", "--b\r\nContent-Type: application/json\r\n\r\n{}", "truncated"},
      {"text/plain", "5", "hello", "unsupported Content-Type"},
      {"", "5", "hello", "missing Content-Type"},
  };
  for (const Case& c : cases) {
    std::optional<std::string_view> header;
    if (c.task_header) header = *c.task_header;
    const codec::DecodeResult decoded = codec::decode_result(c.content_type, header, c.body);
    EXPECT_FALSE(decoded.post.has_value()) << c.body;
    ASSERT_TRUE(decoded.failure.task.has_value()) << c.body << " -> " << decoded.failure.message;
    EXPECT_EQ(*decoded.failure.task, 5) << c.body;
    EXPECT_NE(decoded.failure.message.find(c.expect_in_message), std::string::npos)
        << c.body << " -> " << decoded.failure.message;
  }
}

// Proves malformed bodies without an identifiable task report no task, so nothing is touched (RES-6).
TEST(ResultCodec, DecodeErrorsWithoutIdentifiableTask) {
  struct Case {
    std::string content_type;
    std::optional<std::string> task_header;
    std::string body;
  };
  const Case cases[] = {
      {"application/json", std::nullopt, "{not json"},
      {"application/json", std::nullopt, R"({"Data":"e30=","Err":""})"},
      {"application/json", std::nullopt, R"({"TaskID":"five","Data":"e30="})"},
      {"application/json", "abc", R"({"TaskID":5,"Data":"e30="})"},
      {"multipart/mixed; boundary=b", std::nullopt, "--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b--\r\n"},
      {"text/plain", std::nullopt, "hello"},
  };
  for (const Case& c : cases) {
    std::optional<std::string_view> header;
    if (c.task_header) header = *c.task_header;
    const codec::DecodeResult decoded = codec::decode_result(c.content_type, header, c.body);
    EXPECT_FALSE(decoded.post.has_value()) << c.body;
    EXPECT_FALSE(decoded.failure.task.has_value()) << c.body << " -> task " << *decoded.failure.task;
    EXPECT_FALSE(decoded.failure.message.empty()) << c.body;
  }
}

// Proves TaskIDs parse as decimal digits from 1 to 2^63 - 1 only, exactly, as the TaskId header needs (RES-3, RES-10).
TEST(ResultCodec, ParsesTaskIds) {
  EXPECT_EQ(codec::parse_task_id("1"), 1);
  EXPECT_EQ(codec::parse_task_id(" 9223372036854775807 "), INT64_MAX);
  EXPECT_EQ(codec::parse_task_id("9007199254740993"), TaskId{9007199254740993});  // 2^53 + 1: no double
  EXPECT_EQ(codec::parse_task_id("\t12 "), 12);
  for (const char* junk : {"", " ", "12a", "12abc", "abc", "-1", "-0", "0", "+1", "1.0", "1e3", "0x10", "1 2",
                           "9223372036854775808", "18446744073709551616", "99999999999999999999999"}) {
    EXPECT_FALSE(codec::parse_task_id(junk).has_value()) << '"' << junk << '"';
  }
}

// Proves a TaskId header that is not a TaskID identifies no task, in either form, so the
// post changes nothing (RES-6, RES-10).
TEST(ResultCodec, JunkTaskIdHeaderIdentifiesNoTask) {
  const std::string json = R"({"JobType":0,"TaskID":12,"Data":"e30=","Err":""})";
  const std::string multipart = "--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b--\r\n";
  for (const char* header : {"12abc", "-1", "", "0", "+12", "9223372036854775808"}) {
    for (const auto& [type, body] : {std::pair<std::string, std::string>{"application/json", json},
                                     std::pair<std::string, std::string>{"multipart/mixed; boundary=b", multipart}}) {
      const codec::DecodeResult decoded = codec::decode_result(type, std::string_view(header), body);
      EXPECT_FALSE(decoded.post.has_value()) << type << " with TaskId \"" << header << '"';
      EXPECT_FALSE(decoded.failure.task.has_value()) << type << " with TaskId \"" << header << '"';
    }
  }
}

// Proves the JSON form's TaskID is a JSON integer from 1 to 2^63 - 1: a string ("12"), a
// fraction, an exponent, a boolean, null, 0, a negative, a value above 2^63 - 1 or one
// that differs from the TaskId header identifies no task: 400, nothing changes (RES-6, RES-10).
TEST(ResultCodec, NonIntegerJsonTaskIdIdentifiesNoTask) {
  for (const char* task : {R"("12")", "12.0", "1.2e1", "1e3", "true", "null", "0", "-12", "-0",
                           "9223372036854775808", R"({"id":12})", "[12]"}) {
    const std::string body = std::string(R"({"JobType":0,"TaskID":)") + task + R"(,"Data":"e30=","Err":""})";
    for (const std::optional<std::string_view> header : {std::optional<std::string_view>{},
                                                         std::optional<std::string_view>{"12"}}) {
      const codec::DecodeResult decoded = codec::decode_result("application/json", header, body);
      EXPECT_FALSE(decoded.post.has_value()) << body;
      EXPECT_FALSE(decoded.failure.task.has_value()) << body << " -> task " << *decoded.failure.task;
      EXPECT_NE(decoded.failure.message.find("TaskID"), std::string::npos) << decoded.failure.message;
    }
  }
  const codec::DecodeResult mismatch = codec::decode_result(
      "application/json", std::string_view("13"), std::string(R"({"JobType":0,"TaskID":12,"Data":"e30="})"));
  EXPECT_FALSE(mismatch.post.has_value());
  EXPECT_FALSE(mismatch.failure.task.has_value());
  EXPECT_NE(mismatch.failure.message.find("differs from the TaskId header"), std::string::npos)
      << mismatch.failure.message;
}

// Proves TaskIDs of the whole 63-bit range survive both forms exactly, the JSON parser
// included: 2^53 + 1 is not rounded to 2^53 through a double (RES-2, RES-3, RES-10).
TEST(ResultCodec, TaskIdsOfTheFullRangeRoundTripExactly) {
  for (const TaskId task : {TaskId{1}, TaskId{9007199254740993}, TaskId{9007199254740992} + 3,
                            TaskId{4611686018427387905}, INT64_MAX}) {
    const codec::EncodedPost json = codec::encode_json_result(Pipeline::kTextToImage, task, true, "{}", "");
    codec::DecodeResult decoded = codec::decode_result(json.content_type, std::nullopt, json.joined());
    ASSERT_TRUE(decoded.post.has_value()) << task << ": " << decoded.failure.message;
    EXPECT_EQ(decoded.post->task, task);
    const std::string header = std::to_string(task);
    decoded = codec::decode_result(json.content_type, std::string_view(header), json.joined());
    ASSERT_TRUE(decoded.post.has_value()) << task << ": " << decoded.failure.message;
    EXPECT_EQ(decoded.post->task, task);
    const codec::EncodedPost failed = codec::encode_json_result(Pipeline::kUpscale, task, false, "", "boom");
    decoded = codec::decode_result(failed.content_type, std::nullopt, failed.joined());
    ASSERT_TRUE(decoded.post.has_value()) << task << ": " << decoded.failure.message;
    EXPECT_EQ(decoded.post->task, task);
    ResultBody body;
    body.json = bytes_of("{}");
    const codec::EncodedPost multipart = codec::encode_multipart_result(body);
    decoded = codec::decode_result(multipart.content_type, std::string_view(header), multipart.joined());
    ASSERT_TRUE(decoded.post.has_value()) << task << ": " << decoded.failure.message;
    EXPECT_EQ(decoded.post->task, task);
  }
}

// Proves the worker's post of an outcome is sent whole up to the limit and, one byte
// over it, replaced by a small worker error giving the post's size and the limit, in
// both forms; an error text over the limit is replaced the same way (RES-11).
TEST(ResultCodec, WorkerResultOverTheLimitBecomesAWorkerError) {
  const auto success = [](std::size_t file_bytes) {
    aipool::ExecResult result;
    result.ok = true;
    result.body.json = bytes_of(R"({"images":[{"url":"image-0.png","seed":0,"nsfw":false}]})");
    if (file_bytes > 0) result.body.files.push_back(ResultFile{"image-0.png", "image/png", bytes_of(std::string(file_bytes, 'x'))});
    return result;
  };
  aipool::ExecResult fits = success(100'000);
  const std::size_t size = codec::encode_multipart_result(fits.body).size();
  codec::EncodedPost post = codec::encode_worker_result(Pipeline::kUpscale, 8, fits, size);
  EXPECT_TRUE(fits.ok);
  EXPECT_EQ(post.size(), size);
  EXPECT_EQ(post.content_type.rfind("multipart/mixed", 0), 0u);

  aipool::ExecResult over = success(100'000);
  post = codec::encode_worker_result(Pipeline::kUpscale, 8, over, size - 1);
  EXPECT_FALSE(over.ok);
  EXPECT_TRUE(over.body.files.empty());
  const std::string expected = "output of " + std::to_string(size) + " bytes is larger than the limit of " +
                               std::to_string(size - 1) + " bytes";
  EXPECT_EQ(over.error, expected);
  codec::DecodeResult decoded = codec::decode_result(post.content_type, std::string_view("8"), post.joined());
  ASSERT_TRUE(decoded.post.has_value()) << decoded.failure.message;
  EXPECT_EQ(decoded.post->task, 8);
  EXPECT_FALSE(decoded.post->ok);
  EXPECT_EQ(decoded.post->error, expected);
  EXPECT_LT(post.size(), 4096u);

  aipool::ExecResult text;  // the JSON form: base64 makes the post larger than the JSON
  text.ok = true;
  text.body.json = bytes_of("{\"text\":\"" + std::string(6000, 'a') + "\"}");
  post = codec::encode_worker_result(Pipeline::kImageToText, 9, text, 8000);
  EXPECT_FALSE(text.ok);
  EXPECT_EQ(text.error.rfind("output of 8", 0), 0u) << text.error;
  EXPECT_NE(text.error.find(" bytes is larger than the limit of 8000 bytes"), std::string::npos) << text.error;

  aipool::ExecResult long_error;
  long_error.error = std::string(10'000, 'e');
  post = codec::encode_worker_result(Pipeline::kImageToText, 10, long_error, 4096);
  EXPECT_FALSE(long_error.ok);
  EXPECT_EQ(long_error.error.rfind("output of ", 0), 0u) << long_error.error.substr(0, 40);
  EXPECT_LE(post.size(), 4096u);

  aipool::ExecResult no_json;
  no_json.ok = true;
  post = codec::encode_worker_result(Pipeline::kImageToText, 11, no_json, 4096);
  EXPECT_FALSE(no_json.ok);
  EXPECT_EQ(no_json.error, "executor returned no response JSON");
  EXPECT_EQ(post.content_type, "application/json");
}

}  // namespace
