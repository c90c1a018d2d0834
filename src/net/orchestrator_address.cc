#include "net/orchestrator_address.h"

#include <charconv>
#include <optional>
#include <system_error>

#include "codec/text.h"

namespace aipool::net {
namespace {

std::optional<std::uint16_t> parse_port(std::string_view text) {
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::string OrchestratorAddress::grpc_target() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(grpc_port);
}

std::variant<std::vector<OrchestratorAddress>, std::string> parse_orchestrator_addresses(std::string_view text) {
  std::vector<OrchestratorAddress> out;
  std::size_t index = 0;
  while (true) {
    const std::size_t comma = text.find(',');
    std::string_view item = codec::trim(text.substr(0, comma), codec::kBlank);
    std::string where = "orchAddr entry " + std::to_string(index) + " \"";
    where.append(item);
    where += "\": ";
    if (item.empty()) return "orchAddr entry " + std::to_string(index) + ": empty address";
    if (item.substr(0, 8) == "https://") {
      return where + "TLS to the orchestrator is not supported yet; give host:port";
    }
    if (item.substr(0, 7) == "http://") item.remove_prefix(7);
    OrchestratorAddress address;
    // Optional "/httpPort" suffix.
    const std::size_t slash = item.find('/');
    if (slash != std::string_view::npos) {
      const std::optional<std::uint16_t> http = parse_port(item.substr(slash + 1));
      if (!http) return where + "the HTTP port after '/' must be a number from 1 to 65535";
      address.http_port = *http;
      item = item.substr(0, slash);
    }
    std::string_view port_text;
    if (!item.empty() && item.front() == '[') {
      const std::size_t close = item.find(']');
      if (close == std::string_view::npos) return where + "unterminated '[' in an IPv6 address";
      address.host = std::string(item.substr(1, close - 1));
      std::string_view rest = item.substr(close + 1);
      if (!rest.empty()) {
        if (rest.front() != ':') return where + "expected ':' after ']'";
        port_text = rest.substr(1);
        if (port_text.empty()) return where + "empty port";
      }
    } else {
      const std::size_t colon = item.rfind(':');
      if (colon != std::string_view::npos && item.find(':') != colon) {
        return where + "write an IPv6 address in brackets, e.g. [::1]:8935";
      }
      address.host = std::string(item.substr(0, colon));
      if (colon != std::string_view::npos) {
        port_text = item.substr(colon + 1);
        if (port_text.empty()) return where + "empty port";
      }
    }
    if (address.host.empty()) return where + "no host";
    if (!port_text.empty()) {
      const std::optional<std::uint16_t> port = parse_port(port_text);
      if (!port) return where + "the port must be a number from 1 to 65535";
      address.grpc_port = *port;
    }
    for (const OrchestratorAddress& other : out) {
      if (other.grpc_target() == address.grpc_target()) return where + "duplicate address";
    }
    out.push_back(std::move(address));
    if (comma == std::string_view::npos) break;
    text = text.substr(comma + 1);
    ++index;
  }
  return out;
}

}  // namespace aipool::net
