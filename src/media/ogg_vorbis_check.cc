#include "media/ogg_vorbis_check.h"

#include <ogg/ogg.h>
#include <vorbis/codec.h>

#include <cstring>

namespace aipool::media {
namespace {

// libogg's and libvorbis's states for one check, freed whatever happens.
class HeaderReader {
 public:
  explicit HeaderReader(std::string_view bytes) {
    ogg_sync_init(&sync_);
    char* buffer = ogg_sync_buffer(&sync_, static_cast<long>(bytes.size()));
    std::memcpy(buffer, bytes.data(), bytes.size());
    ogg_sync_wrote(&sync_, static_cast<long>(bytes.size()));
    vorbis_info_init(&info_);
    vorbis_comment_init(&comment_);
  }
  ~HeaderReader() {
    vorbis_comment_clear(&comment_);
    vorbis_info_clear(&info_);
    if (stream_started_) ogg_stream_clear(&stream_);
    ogg_sync_clear(&sync_);
  }
  HeaderReader(const HeaderReader&) = delete;
  HeaderReader& operator=(const HeaderReader&) = delete;

  // The first page's first packet; false when there is none.
  bool first_packet(ogg_packet& packet) {
    ogg_page page;
    if (!next_page(page)) return false;
    ogg_stream_init(&stream_, ogg_page_serialno(&page));
    stream_started_ = true;
    ogg_stream_pagein(&stream_, &page);
    return ogg_stream_packetout(&stream_, &packet) == 1;
  }

  // The stream's next packet, read across pages; false at the end of the file or
  // at a hole (a missing or corrupt page).
  bool next_packet(ogg_packet& packet) {
    for (;;) {
      const int result = ogg_stream_packetout(&stream_, &packet);
      if (result == 1) return true;
      if (result < 0) return false;
      ogg_page page;
      if (!next_page(page)) return false;
      ogg_stream_pagein(&stream_, &page);  // another stream's page is refused; ignored as libsndfile does
    }
  }

  bool accept(ogg_packet& packet) { return vorbis_synthesis_headerin(&info_, &comment_, &packet) == 0; }

 private:
  bool next_page(ogg_page& page) {
    for (;;) {
      const int result = ogg_sync_pageout(&sync_, &page);
      if (result == 1) return true;
      if (result == 0) return false;  // no whole page left
    }
  }

  ogg_sync_state sync_{};
  ogg_stream_state stream_{};
  bool stream_started_ = false;
  vorbis_info info_{};
  vorbis_comment comment_{};
};

}  // namespace

bool ogg_vorbis_headers_ok(std::string_view bytes) {
  if (!bytes.starts_with("OggS")) return true;
  HeaderReader reader(bytes);
  ogg_packet packet;
  if (!reader.first_packet(packet)) return true;  // libsndfile refuses it before Vorbis starts
  constexpr std::string_view kVorbisId = "\x01vorbis";
  if (packet.bytes < static_cast<long>(kVorbisId.size()) ||
      std::memcmp(packet.packet, kVorbisId.data(), kVorbisId.size()) != 0) {
    return true;  // not Vorbis (Opus, FLAC, ...)
  }
  if (!reader.accept(packet)) return false;
  for (int i = 0; i < 2; ++i) {  // the comment and setup headers
    if (!reader.next_packet(packet) || !reader.accept(packet)) return false;
  }
  return true;
}

}  // namespace aipool::media
