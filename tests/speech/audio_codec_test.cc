// Tests of the audio probe and decoder (src/media/audio_codec.h): WAV, FLAC and OGG
// files made here with libsndfile, resampling to 16 kHz mono, and clear errors.
#include "media/audio_codec.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>

#include "speech_test_support.h"

namespace aipool::media {
namespace {

using speech_test::encode_audio;
using speech_test::sine;

AudioInfo probed(const std::string& bytes) {
  auto result = probe_audio(bytes);
  if (const auto* error = std::get_if<AudioError>(&result)) {
    ADD_FAILURE() << error->message;
    return {};
  }
  return std::get<AudioInfo>(result);
}

std::vector<float> decoded(const std::string& bytes) {
  auto result = decode_audio_16k_mono(bytes);
  if (const auto* error = std::get_if<AudioError>(&result)) {
    ADD_FAILURE() << error->message;
    return {};
  }
  return std::get<std::vector<float>>(result);
}

std::string error_of(const std::variant<AudioInfo, AudioError>& result) {
  const auto* error = std::get_if<AudioError>(&result);
  return error ? error->message : "(no error)";
}

std::vector<float> stereo(const std::vector<float>& left, const std::vector<float>& right) {
  std::vector<float> out;
  for (std::size_t i = 0; i < left.size(); ++i) {
    out.push_back(left[i]);
    out.push_back(right[i]);
  }
  return out;
}

// The frequency of a tone from its upward zero crossings, over the middle of the signal.
double frequency(const std::vector<float>& samples, int rate) {
  const std::size_t begin = samples.size() / 10, end = samples.size() - samples.size() / 10;
  std::size_t first = 0, last = 0, crossings = 0;
  for (std::size_t i = begin + 1; i < end; ++i) {
    if (samples[i - 1] < 0 && samples[i] >= 0) {
      if (crossings == 0) first = i;
      last = i;
      ++crossings;
    }
  }
  if (crossings < 2) return 0;
  return static_cast<double>(crossings - 1) * rate / static_cast<double>(last - first);
}

double rms(const std::vector<float>& samples) {
  double sum = 0;
  for (float s : samples) sum += static_cast<double>(s) * s;
  return samples.empty() ? 0 : std::sqrt(sum / static_cast<double>(samples.size()));
}

// ASR-2: the probe reads container, channels, rate and length of WAV, FLAC and OGG (Vorbis and Opus) headers.
TEST(SpeechAudio, ProbeReadsWavFlacOgg) {
  const std::vector<float> tone = sine(440, 1.0, 48000);
  struct Case {
    int format;
    AudioFormat expected;
  };
  for (const Case& c : {Case{SF_FORMAT_WAV | SF_FORMAT_PCM_16, AudioFormat::kWav},
                        Case{SF_FORMAT_WAV | SF_FORMAT_FLOAT, AudioFormat::kWav},
                        Case{SF_FORMAT_WAVEX | SF_FORMAT_PCM_24, AudioFormat::kWav},
                        Case{SF_FORMAT_FLAC | SF_FORMAT_PCM_16, AudioFormat::kFlac},
                        Case{SF_FORMAT_OGG | SF_FORMAT_VORBIS, AudioFormat::kOgg},
                        Case{SF_FORMAT_OGG | SF_FORMAT_OPUS, AudioFormat::kOgg}}) {
    SCOPED_TRACE(std::to_string(c.format));
    const AudioInfo info = probed(encode_audio(tone, 1, 48000, c.format));
    EXPECT_EQ(info.format, c.expected);
    EXPECT_EQ(info.channels, 1);
    EXPECT_EQ(info.sample_rate, 48000);
    EXPECT_NEAR(info.duration_s(), 1.0, 0.02);
  }
  EXPECT_EQ(audio_format_name(AudioFormat::kFlac), "FLAC");
}

// ASR-3: 44.1 kHz stereo becomes 16 kHz mono: the length scales with the rate and a tone keeps its frequency and level.
TEST(SpeechAudio, Resamples44kStereoTo16kMono) {
  const std::vector<float> tone = sine(440, 2.0, 44100);
  for (int format : {SF_FORMAT_WAV | SF_FORMAT_PCM_16, SF_FORMAT_FLAC | SF_FORMAT_PCM_24,
                     SF_FORMAT_OGG | SF_FORMAT_VORBIS}) {
    SCOPED_TRACE(std::to_string(format));
    const std::vector<float> out = decoded(encode_audio(stereo(tone, tone), 2, 44100, format));
    EXPECT_NEAR(static_cast<double>(out.size()), 32000.0, 2.0);
    EXPECT_NEAR(frequency(out, 16000), 440.0, 1.0);
    EXPECT_NEAR(rms(out), 0.5 / std::sqrt(2.0), 0.01);
  }
}

// ASR-3: channels are mixed down by their mean (a tone against its inverse cancels out).
TEST(SpeechAudio, MixdownIsTheMeanOfTheChannels) {
  const std::vector<float> tone = sine(300, 1.0, 22050);
  std::vector<float> inverse(tone);
  for (float& s : inverse) s = -s;
  const std::vector<float> cancelled = decoded(encode_audio(stereo(tone, inverse), 2, 22050, SF_FORMAT_WAV | SF_FORMAT_FLOAT));
  EXPECT_NEAR(static_cast<double>(cancelled.size()), 16000.0, 2.0);
  EXPECT_LT(rms(cancelled), 1e-4);
  std::vector<float> silent(tone.size(), 0.0f);
  const std::vector<float> half = decoded(encode_audio(stereo(tone, silent), 2, 22050, SF_FORMAT_WAV | SF_FORMAT_FLOAT));
  EXPECT_NEAR(rms(half), 0.25 / std::sqrt(2.0), 0.005);
}

// ASR-3: 16 kHz mono input is passed through without resampling (equal to 16-bit precision).
TEST(SpeechAudio, SixteenKilohertzMonoIsNotResampled) {
  const std::vector<float> tone = sine(1000, 0.5, 16000);
  const std::vector<float> out = decoded(encode_audio(tone, 1, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16));
  ASSERT_EQ(out.size(), tone.size());
  for (std::size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], tone[i], 1.0 / 32768 + 1e-6) << i;
}

// ASR-2, ASR-4: garbage, empty, truncated and foreign files fail with a message that says what is wrong.
TEST(SpeechAudio, GarbageIsRefusedWithTheReason) {
  EXPECT_EQ(error_of(probe_audio("")), "the audio file is empty");
  EXPECT_NE(error_of(probe_audio("RIFF-wave-bytes")).find("not a readable WAV, FLAC or OGG audio file (libsndfile: "),
            std::string::npos);
  EXPECT_NE(error_of(probe_audio(std::string(1000, '\x55'))).find("not a readable WAV, FLAC or OGG"), std::string::npos);
  EXPECT_NE(error_of(probe_audio("OggS" + std::string(200, '\0'))).find("not a readable WAV, FLAC or OGG"), std::string::npos);
  const std::string aiff = encode_audio(sine(440, 0.1, 8000), 1, 8000, SF_FORMAT_AIFF | SF_FORMAT_PCM_16);
  EXPECT_EQ(error_of(probe_audio(aiff)), "unsupported audio container AIFF (Apple/SGI) (accepted: WAV, FLAC, OGG)");
  const std::string wav = encode_audio(sine(440, 0.1, 8000), 1, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  EXPECT_NE(error_of(probe_audio(wav.substr(0, 20))).find("not a readable WAV, FLAC or OGG"), std::string::npos);
  const std::string empty_wav = encode_audio({}, 1, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  EXPECT_EQ(error_of(probe_audio(empty_wav)), "the audio has no samples");
  auto garbage = decode_audio_16k_mono("RIFF-wave-bytes");
  ASSERT_TRUE(std::holds_alternative<AudioError>(garbage));
  EXPECT_NE(std::get<AudioError>(garbage).message.find("not a readable WAV, FLAC or OGG"), std::string::npos);
}

// ASR-2, ASR-4: truncated files: a FLAC fails where its data stops, an OGG already at the probe; a WAV keeps what it has.
TEST(SpeechAudio, TruncatedFilesFailWithThePosition) {
  const std::vector<float> tone = sine(440, 3.0, 44100);
  const std::string flac = encode_audio(tone, 1, 44100, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  const std::string half_flac = flac.substr(0, flac.size() / 2);
  EXPECT_TRUE(std::holds_alternative<AudioInfo>(probe_audio(half_flac)));  // the header is whole
  auto decoded_flac = decode_audio_16k_mono(half_flac);
  ASSERT_TRUE(std::holds_alternative<AudioError>(decoded_flac));
  EXPECT_NE(std::get<AudioError>(decoded_flac).message.find("the audio data cannot be decoded after 1."),
            std::string::npos)
      << std::get<AudioError>(decoded_flac).message;
  const std::string ogg = encode_audio(tone, 1, 44100, SF_FORMAT_OGG | SF_FORMAT_VORBIS);
  const std::string half_ogg = ogg.substr(0, ogg.size() / 2);
  auto probed_ogg = probe_audio(half_ogg);
  ASSERT_TRUE(std::holds_alternative<AudioError>(probed_ogg));
  EXPECT_FALSE(std::get<AudioError>(probed_ogg).too_long);
  EXPECT_EQ(std::get<AudioError>(probed_ogg).message.rfind("the OGG file is truncated or corrupt", 0), 0u)
      << std::get<AudioError>(probed_ogg).message;
  const std::string wav = encode_audio(tone, 1, 44100, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  const std::vector<float> half_wav = decoded(wav.substr(0, 44 + 44100 * 2));  // the header and 1 s of data
  EXPECT_NEAR(static_cast<double>(half_wav.size()), 16000.0, 2.0);
}

// ASR-2: an OGG Vorbis cut or corrupted inside its three stream headers is refused before libsndfile opens it
// (libsndfile 1.2.0 leaks its Vorbis state on such files; fuzz regression audio_probe/ogg_vorbis_*).
TEST(SpeechAudio, OggVorbisWithBrokenHeadersIsRefusedBeforeLibsndfile) {
  const std::string ogg = encode_audio(sine(440, 0.2, 16000), 2, 16000, SF_FORMAT_OGG | SF_FORMAT_VORBIS);
  const std::size_t second_page = ogg.find("OggS", 4);
  ASSERT_NE(second_page, std::string::npos);
  std::string corrupt = ogg;
  corrupt[second_page + 700] = static_cast<char>(corrupt[second_page + 700] ^ 0x5a);  // the page's CRC fails
  const std::string cut = ogg.substr(0, second_page + 100);
  for (const std::string& file : {corrupt, cut}) {
    EXPECT_EQ(error_of(probe_audio(file)),
              "not a readable WAV, FLAC or OGG audio file (OGG Vorbis: its stream headers are truncated or corrupt)");
  }
  EXPECT_TRUE(std::holds_alternative<AudioInfo>(probe_audio(ogg)));
}

// ASR-2: audio above the duration limit is refused from its header, marked too long.
TEST(SpeechAudio, TooLongIsRefused) {
  const std::string wav = encode_audio(sine(440, 1.0, 8000), 1, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  auto result = probe_audio(wav, 0.5);
  ASSERT_TRUE(std::holds_alternative<AudioError>(result));
  EXPECT_TRUE(std::get<AudioError>(result).too_long);
  EXPECT_EQ(std::get<AudioError>(result).message, "the audio is 1.0 s long, above the limit of 0.5 s");
  EXPECT_TRUE(std::holds_alternative<AudioInfo>(probe_audio(wav)));
}

}  // namespace
}  // namespace aipool::media
