// File: ogg_vorbis_check.h
// A check of an OGG Vorbis file's three stream headers (identification, comment,
// setup), made before libsndfile opens the file (audio_codec.cc). libsndfile 1.2.0
// leaks the Vorbis decoder state it has started (about 6 KB) whenever it gives up
// on those headers, truncated or corrupt, so such a file must never reach it: each
// refused upload would cost the orchestrator memory for good.
//
// Contract: pure function; thread-safe. It reads the file as libsndfile does (the
// first page's stream, its packets in order, pages of other streams ignored) with
// libogg and libvorbis, and frees what they allocate.
#pragma once

#include <string_view>

namespace aipool::media {

// False when `bytes` is an Ogg file whose first stream is Vorbis and whose three
// header packets cannot all be read and accepted by libvorbis; true otherwise (not
// Ogg Vorbis at all: libsndfile judges it).
bool ogg_vorbis_headers_ok(std::string_view bytes);

}  // namespace aipool::media
