// Checks proto/aipool.proto against spec/wire.md through the generated
// descriptors: names, field numbers, types and nesting, and one round trip.
#include <cstdint>
#include <string>

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include "aipool.grpc.pb.h"
#include "aipool.pb.h"

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// Expects `message` to have a field `name` with number `number` and type `type`,
// and repeated (or a map) exactly when `repeated` is true.
void expect_field(const Descriptor* message, const std::string& name, int number,
                  FieldDescriptor::Type type, bool repeated = false) {
  ASSERT_NE(message, nullptr);
  const FieldDescriptor* field = message->FindFieldByName(name);
  ASSERT_NE(field, nullptr) << message->full_name() << " has no field " << name;
  EXPECT_EQ(field->number(), number) << message->full_name() << "." << name;
  EXPECT_EQ(field->type(), type) << message->full_name() << "." << name;
  EXPECT_EQ(field->is_repeated(), repeated) << message->full_name() << "." << name;
}

// Expects `message.name` to be a map<key, value> field with number `number`.
void expect_map(const Descriptor* message, const std::string& name, int number,
                FieldDescriptor::Type key, FieldDescriptor::Type value) {
  ASSERT_NE(message, nullptr);
  const FieldDescriptor* field = message->FindFieldByName(name);
  ASSERT_NE(field, nullptr) << message->full_name() << " has no field " << name;
  EXPECT_EQ(field->number(), number) << message->full_name() << "." << name;
  ASSERT_TRUE(field->is_map()) << message->full_name() << "." << name;
  EXPECT_EQ(field->message_type()->map_key()->type(), key);
  EXPECT_EQ(field->message_type()->map_value()->type(), value);
}

// Proves the package, service and method names give the path /net.Transcoder/RegisterAIWorker, server-streaming RegisterRequest -> NotifyAIJob (WIRE-1).
TEST(WireProto, MethodPathIsNetTranscoderRegisterAIWorker) {
  EXPECT_STREQ(net::Transcoder::service_full_name(), "net.Transcoder");
  const auto* file = net::RegisterRequest::descriptor()->file();
  EXPECT_EQ(file->package(), "net");
  const auto* service = file->FindServiceByName("Transcoder");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(service->full_name(), net::Transcoder::service_full_name());
  const auto* method = service->FindMethodByName("RegisterAIWorker");
  ASSERT_NE(method, nullptr);
  EXPECT_EQ("/" + service->full_name() + "/" + method->name(),
            "/net.Transcoder/RegisterAIWorker");
  EXPECT_FALSE(method->client_streaming());
  EXPECT_TRUE(method->server_streaming());
  EXPECT_EQ(method->input_type(), net::RegisterRequest::descriptor());
  EXPECT_EQ(method->output_type(), net::NotifyAIJob::descriptor());
}

// Proves RegisterRequest's fields are secret 1, capacity 2, capabilities 3, plus the aipool extension gpus 16 (WIRE-2).
TEST(WireProto, RegisterRequestFieldNumbers) {
  const Descriptor* m = net::RegisterRequest::descriptor();
  EXPECT_EQ(m->field_count(), 4);
  expect_field(m, "secret", 1, FieldDescriptor::TYPE_STRING);
  expect_field(m, "capacity", 2, FieldDescriptor::TYPE_INT64);
  expect_field(m, "capabilities", 3, FieldDescriptor::TYPE_MESSAGE);
  EXPECT_EQ(m->FindFieldByName("capabilities")->message_type(), net::Capabilities::descriptor());
  expect_field(m, "gpus", 16, FieldDescriptor::TYPE_MESSAGE, /*repeated=*/true);
  EXPECT_EQ(m->FindFieldByName("gpus")->message_type(), net::GPUInfo::descriptor());
}

// Proves Capabilities, Constraints and CapabilityConstraints keep go-livepeer's field numbers and nesting (WIRE-2).
TEST(WireProto, CapabilitiesKeepGoLivepeerFieldNumbers) {
  const Descriptor* caps = net::Capabilities::descriptor();
  EXPECT_EQ(caps->field_count(), 5);
  expect_field(caps, "bitstring", 1, FieldDescriptor::TYPE_UINT64, /*repeated=*/true);
  expect_field(caps, "mandatories", 2, FieldDescriptor::TYPE_UINT64, /*repeated=*/true);
  expect_map(caps, "capacities", 3, FieldDescriptor::TYPE_UINT32, FieldDescriptor::TYPE_UINT32);
  expect_field(caps, "version", 4, FieldDescriptor::TYPE_STRING);
  expect_field(caps, "constraints", 5, FieldDescriptor::TYPE_MESSAGE);

  const Descriptor* constraints = net::Capabilities::Constraints::descriptor();
  EXPECT_EQ(constraints->full_name(), "net.Capabilities.Constraints");
  EXPECT_EQ(constraints->field_count(), 2);
  expect_field(constraints, "minVersion", 1, FieldDescriptor::TYPE_STRING);
  expect_map(constraints, "PerCapability", 2, FieldDescriptor::TYPE_UINT32,
             FieldDescriptor::TYPE_MESSAGE);
  EXPECT_EQ(constraints->FindFieldByName("PerCapability")->message_type()->map_value()->message_type(),
            net::Capabilities::CapabilityConstraints::descriptor());

  const Descriptor* per_cap = net::Capabilities::CapabilityConstraints::descriptor();
  EXPECT_EQ(per_cap->full_name(), "net.Capabilities.CapabilityConstraints");
  EXPECT_EQ(per_cap->field_count(), 1);
  expect_map(per_cap, "models", 1, FieldDescriptor::TYPE_STRING, FieldDescriptor::TYPE_MESSAGE);
}

// Proves ModelConstraint is Capabilities.CapabilityConstraints.ModelConstraint with warm 1, capacity 2, runnerVersion 3, capacityInUse 4 (WIRE-2, WIRE-3).
TEST(WireProto, ModelConstraintFieldNumbers) {
  const Descriptor* m = net::Capabilities::CapabilityConstraints::ModelConstraint::descriptor();
  EXPECT_EQ(m->full_name(), "net.Capabilities.CapabilityConstraints.ModelConstraint");
  EXPECT_EQ(m->field_count(), 4);
  expect_field(m, "warm", 1, FieldDescriptor::TYPE_BOOL);
  expect_field(m, "capacity", 2, FieldDescriptor::TYPE_UINT32);
  expect_field(m, "runnerVersion", 3, FieldDescriptor::TYPE_STRING);
  expect_field(m, "capacityInUse", 4, FieldDescriptor::TYPE_UINT32);
}

// Proves NotifyAIJob is type 1, taskID 2 (int64), data 3 (bytes) and AIRequestType's seven values are 0..6 in spec order: the seed's five first, LLM and TextToSpeech after them (WIRE-4).
TEST(WireProto, NotifyAIJobAndRequestType) {
  const Descriptor* m = net::NotifyAIJob::descriptor();
  EXPECT_EQ(m->field_count(), 3);
  expect_field(m, "type", 1, FieldDescriptor::TYPE_ENUM);
  EXPECT_EQ(m->FindFieldByName("type")->enum_type(), net::AIRequestType_descriptor());
  expect_field(m, "taskID", 2, FieldDescriptor::TYPE_INT64);
  expect_field(m, "data", 3, FieldDescriptor::TYPE_BYTES);

  EXPECT_EQ(net::AIRequestType_descriptor()->value_count(), 7);
  EXPECT_EQ(net::TextToImage, 0);
  EXPECT_EQ(net::ImageToText, 1);
  EXPECT_EQ(net::ImageToImage, 2);
  EXPECT_EQ(net::Upscale, 3);
  EXPECT_EQ(net::AudioToText, 4);
  EXPECT_EQ(net::LLM, 5);
  EXPECT_EQ(net::TextToSpeech, 6);
}

// Proves a per-model capacity at constraints.PerCapability[27].models["m"].capacity survives serialisation, as does a NotifyAIJob (WIRE-3, WIRE-4).
TEST(WireProto, RegisterRequestRoundTrip) {
  net::RegisterRequest sent;
  sent.set_secret("s3cret");
  sent.set_capacity(2);
  auto& model = (*(*sent.mutable_capabilities()->mutable_constraints()->mutable_percapability())[27]
                      .mutable_models())["m"];
  model.set_capacity(2);
  model.set_warm(true);
  auto* gpu = sent.add_gpus();
  gpu->set_id("0");
  gpu->set_memory_total(int64_t{24} << 30);

  const std::string bytes = sent.SerializeAsString();
  ASSERT_FALSE(bytes.empty());
  net::RegisterRequest received;
  ASSERT_TRUE(received.ParseFromString(bytes));
  EXPECT_EQ(received.secret(), "s3cret");
  EXPECT_EQ(received.capacity(), 2);
  const auto& per_cap = received.capabilities().constraints().percapability();
  ASSERT_EQ(per_cap.count(27), 1u);
  ASSERT_EQ(per_cap.at(27).models().count("m"), 1u);
  EXPECT_EQ(per_cap.at(27).models().at("m").capacity(), 2u);
  EXPECT_TRUE(per_cap.at(27).models().at("m").warm());
  ASSERT_EQ(received.gpus_size(), 1);
  EXPECT_EQ(received.gpus(0).memory_total(), int64_t{24} << 30);

  net::NotifyAIJob job;
  job.set_type(net::Upscale);
  job.set_taskid(7);
  job.set_data(R"({"model_id":"m","prompt":"a cat"})");
  net::NotifyAIJob job_received;
  ASSERT_TRUE(job_received.ParseFromString(job.SerializeAsString()));
  EXPECT_EQ(job_received.type(), net::Upscale);
  EXPECT_EQ(job_received.taskid(), 7);
  EXPECT_EQ(job_received.data(), job.data());
}

}  // namespace
