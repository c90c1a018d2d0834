// Unit tests of the public API's request validation and response rendering
// (src/net/api_request.h): no processes, no sockets.
#include "net/api_request.h"

#include <gtest/gtest.h>

#include "net/base64.h"

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

// API-3, API-5, WIRE-4: multipart fields are typed, unknown fields pass through as strings, the file travels as base64.
TEST(ApiRequest, MultipartUpscaleCarriesTheImageInline) {
  std::string type;
  const std::string body = form({{"model_id", "m", ""}, {"image", "PNGDATA", "a.png"}, {"seed", "42", ""},
                                 {"scale", "4", ""}},
                                type);
  auto r = parse_api_request(Pipeline::kUpscale, type, body, only({"m"}));
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_EQ(*r.job.job_json, "{\"model_id\":\"m\",\"image\":\"" + base64_encode("PNGDATA") +
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
  EXPECT_EQ(r.json, "{\"images\":[{\"url\":\"data:image/png;base64," + base64_encode("AAA") +
                        "\",\"seed\":7,\"nsfw\":false},{\"url\":\"data:image/png;base64," + base64_encode("BB") +
                        "\",\"seed\":0,\"nsfw\":true}]}");
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
  EXPECT_EQ(r.json, R"({"text":"hello","chunks":[{"text":"hello","timestamp":[0,1]}]})");
}

// API-7: errors have the ai-runner's {"detail":{"msg":...}} shape, escaped.
TEST(ApiRequest, ErrorJsonShape) {
  EXPECT_EQ(api_error_json("bad \"x\""), R"({"detail":{"msg":"bad \"x\""}})");
}

}  // namespace
}  // namespace aipool::net
