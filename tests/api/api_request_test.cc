// Unit tests of the public API's request validation and response rendering
// (src/net/api_request.h): no processes, no sockets.
#include "net/api_request.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "codec/base64.h"
#include "media/image_codec.h"

namespace aipool::net {
namespace {

ModelLister only(std::vector<std::string> models) {
  return [models](Pipeline) { return models; };
}

std::string form(const std::vector<std::tuple<std::string, std::string, std::string>>& parts, std::string& type) {
  type = "multipart/form-data; boundary=XyZ";
  std::string body;
  for (const auto& [name, value, filename] : parts) {
    body += "--XyZ\r\nContent-Disposition: form-data; name=\"" + name + "\"";
    if (!filename.empty()) body += "; filename=\"" + filename + "\"\r\nContent-Type: image/png";
    body += "\r\n\r\n" + value + "\r\n";
  }
  return body + "--XyZ--\r\n";
}

// API-2, API-5: text-to-image defaults are filled in and the job JSON carries model_id and every field.
TEST(ApiRequest, TextToImageDefaultsAreFilledIn) {
  ParsedApiRequest r = parse_api_request(Pipeline::kTextToImage, "application/json",
                                         R"({"model_id":"m","prompt":"a fox"})", only({"m"}));
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_EQ(r.job.key, (Key{Pipeline::kTextToImage, "m"}));
  EXPECT_EQ(*r.job.job_json,
            R"({"model_id":"m","guidance_scale":7.5,"height":576,"loras":"","negative_prompt":"",)"
            R"("num_images_per_prompt":1,"num_inference_steps":50,"prompt":"a fox","safety_check":true,"width":1024})");
}

// API-2, API-7: a wrongly typed or out-of-range field is refused with 400 naming the field and why.
TEST(ApiRequest, BadFieldsAreNamed) {
  auto r = parse_api_request(Pipeline::kTextToImage, "application/json", R"({"prompt":"p","width":"wide"})", only({"m"}));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.status, 400);
  EXPECT_EQ(r.error.message, "field 'width' must be an integer");
  r = parse_api_request(Pipeline::kTextToImage, "application/json", R"({"prompt":"p","num_images_per_prompt":99})", only({"m"}));
  EXPECT_EQ(r.error.message, "field 'num_images_per_prompt' must be between 1 and 16 (got 99)");
  r = parse_api_request(Pipeline::kTextToImage, "application/json", R"({"width":64})", only({"m"}));
  EXPECT_EQ(r.error.message, "missing required field 'prompt'");
  r = parse_api_request(Pipeline::kTextToImage, "text/plain", "hi", only({"m"}));
  EXPECT_EQ(r.error.status, 400);
  EXPECT_NE(r.error.message.find("expects a JSON body"), std::string::npos);
  r = parse_api_request(Pipeline::kTextToImage, "application/json", "[1,2]", only({"m"}));
  EXPECT_EQ(r.error.status, 400);
}

// API-4: without model_id, the only offered model is used; several give 400 listing them; none give 503.
TEST(ApiRequest, ModelIdResolution) {
  auto r = parse_api_request(Pipeline::kTextToImage, "application/json", R"({"prompt":"p"})", only({"only"}));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.job.key.model, "only");
  r = parse_api_request(Pipeline::kTextToImage, "application/json", R"({"prompt":"p"})", only({"a", "b"}));
  EXPECT_EQ(r.error.status, 400);
  EXPECT_EQ(r.error.message, "model_id is required: pipeline text-to-image offers a, b");
  r = parse_api_request(Pipeline::kTextToImage, "application/json", R"({"prompt":"p"})", only({}));
  EXPECT_EQ(r.error.status, 503);
}

// A real PNG of w x h pixels (API-12: images are checked before dispatch).
std::string tiny_png(std::uint32_t w = 3, std::uint32_t h = 2) {
  const std::vector<std::uint8_t> pixels(std::size_t{w} * h * 3, 128);
  return media::encode_png(pixels.data(), w, h, 3);
}

// API-3, API-5, WIRE-4: multipart fields are typed, unknown fields pass through as strings, the file travels as base64.
TEST(ApiRequest, MultipartUpscaleCarriesTheImageInline) {
  std::string type;
  const std::string png = tiny_png();
  const std::string body = form({{"model_id", "m", ""}, {"image", png, "a.png"}, {"seed", "42", ""},
                                 {"scale", "4", ""}},
                                type);
  auto r = parse_api_request(Pipeline::kUpscale, type, body, only({"m"}));
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_EQ(*r.job.job_json, "{\"model_id\":\"m\",\"image\":\"" + codec::base64_encode(png) +
                                 "\",\"num_inference_steps\":75,\"prompt\":\"\",\"safety_check\":true,"
                                 "\"scale\":\"4\",\"seed\":42}");
}

// API-2, API-7: a multipart request without its file, or with a text where a file belongs, is refused.
TEST(ApiRequest, MultipartFileRules) {
  std::string type;
  auto r = parse_api_request(Pipeline::kImageToText, type = "", "", only({"m"}));
  EXPECT_EQ(r.error.status, 400);
  std::string body = form({{"model_id", "m", ""}}, type);
  r = parse_api_request(Pipeline::kUpscale, type, body, only({"m"}));
  EXPECT_EQ(r.error.message, "missing required field 'image'");
  body = form({{"image", "not-a-file", ""}}, type);
  r = parse_api_request(Pipeline::kUpscale, type, body, only({"m"}));
  EXPECT_EQ(r.error.message, "field 'image' must be a file upload (with a filename)");
  body = form({{"audio", "x", "a.wav"}, {"return_timestamps", "maybe", ""}}, type);
  r = parse_api_request(Pipeline::kAudioToText, type, body, only({"m"}));
  EXPECT_EQ(r.error.message, "field 'return_timestamps' must be one of true, false, word, sentence");
  r = parse_api_request(Pipeline::kUpscale, "multipart/form-data; boundary=XyZ", "--XyZ\r\nbroken", only({"m"}));
  EXPECT_EQ(r.error.status, 400);
}

// API-6: image results become data: URLs with url, seed and nsfw on every item.
TEST(ApiRequest, RenderImagesAsDataUrls) {
  ResultBody body;
  body.json = std::make_shared<const std::string>(R"({"images":[{"url":"0.png","seed":7},{"url":"1.png","nsfw":true}]})");
  body.files.push_back({"0.png", "image/png", std::make_shared<const std::string>("AAA")});
  body.files.push_back({"1.png", "image/png", std::make_shared<const std::string>("BB")});
  RenderedResponse r = render_api_response(Pipeline::kTextToImage, body);
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_EQ(r.json(), "{\"images\":[{\"url\":\"data:image/png;base64," + codec::base64_encode("AAA") +
                        "\",\"seed\":7,\"nsfw\":false},{\"url\":\"data:image/png;base64," + codec::base64_encode("BB") +
                        "\",\"seed\":0,\"nsfw\":true}]}");
}

// API-6: a large output is rendered without being encoded up front (the file stays
// shared with the result), and written in chunks whose concatenation is the whole
// answer, with base64 groups never split wrongly across chunks.
TEST(ApiRequest, LargeAnswersAreWrittenInChunksAsTheyAreEncoded) {
  std::string big(1'000'001, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 3);
  const Payload file = std::make_shared<const std::string>(big);
  ResultBody body;
  body.json = std::make_shared<const std::string>(
      R"({"images":[{"url":"a.bin","seed":1},{"url":"b.bin","seed":2},{"url":"c.bin","seed":3}]})");
  body.files.push_back({"a.bin", "image/png", file});
  body.files.push_back({"b.bin", "image/png", std::make_shared<const std::string>("xy")});
  body.files.push_back({"c.bin", "image/png", file});
  const RenderedResponse r = render_api_response(Pipeline::kTextToImage, body);
  ASSERT_TRUE(r.ok) << r.error.message;
  bool shared = false;
  for (const ResponsePart& part : r.parts) shared = shared || part.file->data() == file->data();
  EXPECT_TRUE(shared) << "the file was copied or encoded while rendering";
  const std::string expected = "{\"images\":[{\"url\":\"data:image/png;base64," + codec::base64_encode(big) +
                               "\",\"seed\":1,\"nsfw\":false},{\"url\":\"data:image/png;base64," + codec::base64_encode("xy") +
                               "\",\"seed\":2,\"nsfw\":false},{\"url\":\"data:image/png;base64," + codec::base64_encode(big) +
                               "\",\"seed\":3,\"nsfw\":false}]}";
  EXPECT_EQ(r.size(), expected.size());
  EXPECT_EQ(r.json(), expected);
  for (const std::size_t chunk : {std::size_t{1}, std::size_t{4096}, std::size_t{65'537}, std::size_t{262'144},
                                  std::size_t{10'000'000}}) {
    std::string joined;
    std::size_t writes = 0;
    std::size_t largest = 0;
    write_rendered(r, chunk, [&](std::string_view piece) {
      joined += piece;
      ++writes;
      largest = std::max(largest, piece.size());
    });
    EXPECT_EQ(joined, expected) << "chunk " << chunk;
    const std::size_t effective = std::max<std::size_t>(chunk, 4096);
    EXPECT_GE(writes, expected.size() / (effective + 4096)) << "chunk " << chunk;
    EXPECT_LE(largest, effective + 4096) << "chunk " << chunk;
  }
}

// API-6, API-7: a worker result that does not fit its pipeline is a 502, not a crash.
TEST(ApiRequest, MalformedWorkerResultIs502) {
  ResultBody body;
  body.json = std::make_shared<const std::string>(R"({"images":[{"url":"missing.png"}]})");
  RenderedResponse r = render_api_response(Pipeline::kUpscale, body);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.status, 502);
  body.json = std::make_shared<const std::string>("not json");
  EXPECT_EQ(render_api_response(Pipeline::kImageToText, body).error.status, 502);
  body.json = std::make_shared<const std::string>(R"({"text":"hello","chunks":[{"timestamp":[0,1],"text":"hello"}]})");
  r = render_api_response(Pipeline::kAudioToText, body);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.json(), R"({"text":"hello","chunks":[{"text":"hello","timestamp":[0,1]}]})");
}

// A PCM WAV file written by hand: `frames` samples of silence, mono, `bits` 8 or 16.
std::string tiny_wav(std::uint32_t rate = 16000, std::uint32_t frames = 1600, std::uint16_t bits = 16) {
  const auto le = [](std::uint32_t v, int bytes) {
    std::string out;
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
    return out;
  };
  const std::uint32_t block = bits / 8, data = frames * block;
  const std::string silence(data, bits == 8 ? '\x80' : '\0');
  return "RIFF" + le(36 + data, 4) + "WAVEfmt " + le(16, 4) + le(1, 2) + le(1, 2) + le(rate, 4) +
         le(rate * block, 4) + le(block, 2) + le(bits, 2) + "data" + le(data, 4) + silence;
}

// ASR-2: audio-to-text's file is probed before dispatch: a WAV passes inline, garbage gets 400 with the reason, over an hour 413.
TEST(ApiRequest, AudioIsCheckedBeforeDispatch) {
  std::string type;
  const auto audio = [&type](const std::string& file) {
    const std::string body = form({{"audio", file, "a.wav"}}, type);
    return parse_api_request(Pipeline::kAudioToText, type, body, only({"m"}));
  };
  const std::string wav = tiny_wav();
  auto r = audio(wav);
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_NE(r.job.job_json->find(codec::base64_encode(wav)), std::string::npos);
  r = audio("RIFF-wave-bytes");
  EXPECT_EQ(r.error.status, 400);
  EXPECT_EQ(r.error.message.rfind("field 'audio': not a readable WAV, FLAC or OGG audio file (libsndfile: ", 0), 0u)
      << r.error.message;
  r = audio(tiny_wav(16000, 0));
  EXPECT_EQ(r.error.status, 400);
  EXPECT_EQ(r.error.message, "field 'audio': the audio has no samples");
  r = audio(tiny_wav(1000, 3601000, 8));
  EXPECT_EQ(r.error.status, 413);
  EXPECT_EQ(r.error.message, "field 'audio': the audio is 3601.0 s long, above the limit of 3600.0 s");
}

// API-12: images are checked before dispatch: not a whole PNG or JPEG gets 400 with the reason, over the pixel limit 413.
TEST(ApiRequest, ImagesAreCheckedBeforeDispatch) {
  std::string type;
  const auto upload = [&type](Pipeline pipeline, const std::string& file, std::uint64_t max_pixels) {
    const std::string body = form({{"prompt", "p", ""}, {"image", file, "a.png"}}, type);
    return parse_api_request(pipeline, type, body, only({"m"}), max_pixels);
  };
  auto r = upload(Pipeline::kImageToImage, "PNGDATA", media::kDefaultMaxPixels);
  EXPECT_EQ(r.error.status, 400);
  EXPECT_EQ(r.error.message, "field 'image': not a PNG or JPEG image");
  const std::string png = tiny_png(40, 30);
  r = upload(Pipeline::kUpscale, png.substr(0, png.size() - 20), media::kDefaultMaxPixels);
  EXPECT_EQ(r.error.status, 400);
  EXPECT_EQ(r.error.message.rfind("field 'image': truncated PNG: ", 0), 0u) << r.error.message;
  r = upload(Pipeline::kImageToText, png, 1199);
  EXPECT_EQ(r.error.status, 413);
  EXPECT_EQ(r.error.message, "field 'image': the image is 40x30 = 1200 pixels, above the limit of 1199 pixels");
  EXPECT_TRUE(upload(Pipeline::kImageToText, png, 1200).ok);
  const std::vector<std::uint8_t> rgb(16 * 8 * 3, 99);
  r = upload(Pipeline::kImageToImage, media::encode_jpeg(rgb.data(), 16, 8), media::kDefaultMaxPixels);
  EXPECT_TRUE(r.ok) << r.error.message;
}

// API-7: errors have the ai-runner's {"detail":{"msg":...}} shape, escaped.
TEST(ApiRequest, ErrorJsonShape) {
  EXPECT_EQ(api_error_json("bad \"x\""), R"({"detail":{"msg":"bad \"x\""}})");
}

}  // namespace
}  // namespace aipool::net

namespace aipool::net {
namespace {

// MET-10: each job carries its size in go-livepeer's latency-score units: output
// pixels x images x steps, the input's pixels (x steps), with the API's defaults.
TEST(ApiRequestWork, JobsCarryTheirSizeForTheLatencyScore) {
  auto t2i = parse_api_request(Pipeline::kTextToImage, "application/json",
                               R"({"model_id":"m","prompt":"p","width":64,"height":32,"num_images_per_prompt":2})",
                               only({"m"}));
  ASSERT_TRUE(t2i.ok) << t2i.error.message;
  EXPECT_EQ(t2i.job.work_units, 64.0 * 32 * 2 * 50);  // 50 steps by default
  std::string type;
  const std::string png = tiny_png(40, 30);
  const std::string up_body =
      form({{"model_id", "m", ""}, {"image", png, "a.png"}, {"num_inference_steps", "10", ""}}, type);
  auto up = parse_api_request(Pipeline::kUpscale, type, up_body, only({"m"}));
  ASSERT_TRUE(up.ok) << up.error.message;
  EXPECT_EQ(up.job.work_units, 40.0 * 30 * 10);
  const std::string i2t_body = form({{"model_id", "m", ""}, {"image", png, "a.png"}}, type);
  auto i2t = parse_api_request(Pipeline::kImageToText, type, i2t_body, only({"m"}));
  ASSERT_TRUE(i2t.ok) << i2t.error.message;
  EXPECT_EQ(i2t.job.work_units, 40.0 * 30);
}

}  // namespace
}  // namespace aipool::net
