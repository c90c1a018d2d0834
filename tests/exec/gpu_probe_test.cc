// GPU discovery (src/exec/gpu_probe.h). CI machines have no GPU: these tests check the
// CPU fall-back; on a GPU machine the first one also checks each device's report.
#include "exec/gpu_probe.h"

#include <gtest/gtest.h>

namespace aipool::exec {
namespace {

// MODEL-19: every device found has a name, memory and a compute capability; with none, the note says the worker runs on the CPU.
TEST(GpuProbe, ReportsDevicesOrSaysWhyNot) {
  const GpuProbe probe = probe_gpus({}, /*all=*/true);
  for (const GpuDevice& device : probe.devices) {
    EXPECT_FALSE(device.name.empty());
    EXPECT_GT(device.memory_total, 0);
    EXPECT_GE(device.major, 3u);
  }
  if (probe.devices.empty()) {
    EXPECT_NE(probe.note.find("CPU"), std::string::npos) << probe.note;
  }
}

// MODEL-19: asking for a device that does not exist finds nothing and says so.
TEST(GpuProbe, UnknownDeviceIsNotReported) {
  const GpuProbe probe = probe_gpus({"4096"}, /*all=*/false);
  EXPECT_TRUE(probe.devices.empty());
  EXPECT_FALSE(probe.note.empty());
}

}  // namespace
}  // namespace aipool::exec
