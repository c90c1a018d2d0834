// File: http_body.h
// Moves a whole HTTP body with a known length between memory and a Poco HTTP
// session in as few socket calls as the kernel allows. Poco's body streams go
// through a 4 KiB buffer, which makes a 4 MiB body a thousand reads or writes.
//
// Shared by net (the worker's result posts) and exec (the external runner engine's
// requests and answers); it includes nothing of ours.
//
// Contract (thread: a session is used by one thread at a time):
//  - read_some: one read of at most `length` bytes, under the same rule as
//    read_body_exactly (never after reading the body stream): the bytes the session
//    buffered with the header if any, else one socket read. Returns how many bytes it
//    read, 0 when the peer has closed. Throws Poco::Exception on a socket error or
//    when the session's receive timeout passes.
//  - read_body_exactly: call it instead of reading the message's body stream, never
//    after reading from it (bytes the stream buffered would be skipped). It takes the
//    bytes the session buffered with the header first, then reads the socket
//    directly. Returns how many bytes were read: fewer than `length` only when the
//    peer closed the connection first. Socket errors and timeouts throw
//    Poco::Exception, as Poco's streams do.
//  - write_body: call it after flushing the stream that sendRequest() returned
//    (Poco buffers the header there) and write nothing else to that stream; it
//    writes `length` bytes straight to the socket (throws Poco::Exception on a
//    socket error).
//  - write_body_pieces: as write_body, for a body made of several pieces sent one
//    after another, in one system call where the kernel takes them all.
#pragma once

#include <Poco/Net/HTTPSession.h>

#include <cstddef>
#include <span>
#include <string_view>

namespace aipool::io {

std::size_t read_some(Poco::Net::HTTPSession& session, char* out, std::size_t length);
std::size_t read_body_exactly(Poco::Net::HTTPSession& session, char* out, std::size_t length);
void write_body(Poco::Net::HTTPSession& session, const char* data, std::size_t length);
void write_body_pieces(Poco::Net::HTTPSession& session, std::span<const std::string_view> pieces);

}  // namespace aipool::io
