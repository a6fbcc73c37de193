// Test support shared by the test tiers: a temporary directory removed with its contents, and
// whole-file reads.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

namespace gossipcluster::test_common {

inline void write_file(const std::filesystem::path& p, std::string_view data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
    if (!out.good()) throw std::runtime_error("cannot write " + p.string());
}

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A fresh directory under the system temp dir, removed with everything in it on destruction.
// The pid and a random part keep concurrent test runs apart.
class TempDir {
  public:
    explicit TempDir(std::string_view prefix = "gossipcluster-test") {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                fmt::format("{}-{}-{:08x}", prefix, ::getpid(), rd());
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

}  // namespace gossipcluster::test_common
