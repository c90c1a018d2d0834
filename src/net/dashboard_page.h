// File: dashboard_page.h
// The dashboard's page (spec/api.md API-14): one HTML document with its script and
// style inline, nothing fetched from elsewhere, that reads /dashboard.json every
// second. Pure data; thread-safe.
#pragma once

#include <string_view>

namespace aipool::net {

std::string_view dashboard_page();

}  // namespace aipool::net
