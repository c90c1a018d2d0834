// File: speech_test_support.h
// Test aids for tests/speech: audio files made in the test with libsndfile, and
// speech synthesised by the espeak-ng program (Debian package espeak-ng).
#pragma once

#include <string>
#include <vector>

namespace aipool::speech_test {

// `interleaved` samples (frames x channels) written as a file of libsndfile `format`
// (e.g. SF_FORMAT_WAV | SF_FORMAT_PCM_16); returns the file's bytes.
std::string encode_audio(const std::vector<float>& interleaved, int channels, int rate, int format);

// A sine of `hz` Hz, `seconds` long, amplitude `amplitude`, at `rate`, mono.
std::vector<float> sine(double hz, double seconds, int rate, double amplitude = 0.5);

// The WAV file espeak-ng writes for `text` (SSML when `ssml`; rate in words per
// minute; voice e.g. "en-us+klatt2"). Fails the test when espeak-ng is missing.
std::string speak(const std::string& text, bool ssml = false, int words_per_minute = 150,
                  const std::string& voice = "en-us+klatt2");

// The samples of a file (any libsndfile format) as floats, interleaved; sets channels and rate.
std::vector<float> read_audio(const std::string& bytes, int& channels, int& rate);

}  // namespace aipool::speech_test
