#include "speech_test_support.h"

#include <gtest/gtest.h>
#include <sndfile.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>

#ifndef AIPOOL_ESPEAK_NG
#define AIPOOL_ESPEAK_NG "espeak-ng"
#endif

namespace aipool::speech_test {
namespace {

std::filesystem::path temp_file(const std::string& suffix) {
  static std::atomic<int> counter{0};
  return std::filesystem::temp_directory_path() /
         ("aipool-speech-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + suffix);
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::string encode_audio(const std::vector<float>& interleaved, int channels, int rate, int format) {
  const std::filesystem::path path = temp_file(".audio");
  SF_INFO info{};
  info.channels = channels;
  info.samplerate = rate;
  info.format = format;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  if (file == nullptr) {
    ADD_FAILURE() << "libsndfile cannot write format " << std::hex << format << ": " << sf_strerror(nullptr);
    return "";
  }
  sf_writef_float(file, interleaved.data(), static_cast<sf_count_t>(interleaved.size() / channels));
  sf_close(file);
  std::string bytes = slurp(path);
  std::filesystem::remove(path);
  return bytes;
}

std::vector<float> sine(double hz, double seconds, int rate, double amplitude) {
  std::vector<float> out(static_cast<std::size_t>(seconds * rate));
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<float>(amplitude * std::sin(2 * std::numbers::pi * hz * static_cast<double>(i) / rate));
  }
  return out;
}

std::string speak(const std::string& text, bool ssml, int words_per_minute, const std::string& voice) {
  const std::filesystem::path wav = temp_file(".wav");
  const std::filesystem::path txt = temp_file(".txt");
  std::ofstream(txt) << text;
  const std::string command = std::string(AIPOOL_ESPEAK_NG) + (ssml ? " -m" : "") + " -v " + voice + " -s " +
                              std::to_string(words_per_minute) + " -g 10 -w " + wav.string() + " -f " +
                              txt.string() + " 2>&1";
  const int status = std::system(command.c_str());
  std::filesystem::remove(txt);
  if (status != 0) {
    ADD_FAILURE() << "`" << command << "` failed (status " << status
                  << "); espeak-ng is installed by scripts/setup.sh";
    return "";
  }
  std::string bytes = slurp(wav);
  std::filesystem::remove(wav);
  return bytes;
}

std::vector<float> read_audio(const std::string& bytes, int& channels, int& rate) {
  const std::filesystem::path path = temp_file(".in");
  std::ofstream(path, std::ios::binary) << bytes;
  SF_INFO info{};
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
  std::vector<float> out;
  if (file != nullptr) {
    out.resize(static_cast<std::size_t>(info.frames * info.channels));
    sf_readf_float(file, out.data(), info.frames);
    sf_close(file);
  }
  std::filesystem::remove(path);
  channels = info.channels;
  rate = info.samplerate;
  return out;
}

}  // namespace aipool::speech_test
