// Helpers shared by the codec and frame-splitter tests: loading captured vectors, patching frames.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "gossipcluster/codec.hpp"

namespace codec_test {

using Bytes = std::vector<std::uint8_t>;

inline std::filesystem::path vectors_dir() {
    return std::filesystem::path(GOSSIPCLUSTER_VECTORS_DIR);
}

inline std::filesystem::path vectors_bin_dir() {
    auto dir = vectors_dir() / "bin";
    if (!std::filesystem::is_directory(dir))
        throw std::runtime_error("captured vectors missing: " + dir.string() +
                                 " (GOSSIPCLUSTER_VECTORS_DIR must point at tests/vectors)");
    return dir;
}

inline Bytes read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every captured frame, sorted by file name so that runs are reproducible.
inline std::vector<std::filesystem::path> vector_files() {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(vectors_bin_dir()))
        if (e.path().extension() == ".bin") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw std::runtime_error("no .bin vectors in " + vectors_bin_dir().string());
    return files;
}

inline Bytes vector_bytes(const std::string& file_name) {
    return read_file(vectors_bin_dir() / file_name);
}

inline void put_u16(Bytes& b, std::size_t off, std::uint16_t v) {
    b.at(off) = static_cast<std::uint8_t>(v >> 8);
    b.at(off + 1) = static_cast<std::uint8_t>(v);
}
inline void put_u32(Bytes& b, std::size_t off, std::uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i)
        b.at(off + i) = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
inline std::uint16_t get_u16(const Bytes& b, std::size_t off) {
    return static_cast<std::uint16_t>((b.at(off) << 8) | b.at(off + 1));
}
inline std::uint32_t get_u32(const Bytes& b, std::size_t off) {
    return (std::uint32_t{b.at(off)} << 24) | (std::uint32_t{b.at(off + 1)} << 16) |
           (std::uint32_t{b.at(off + 2)} << 8) | std::uint32_t{b.at(off + 3)};
}
// Rewrites totlen so that it matches the buffer again after a resize.
inline void fix_totlen(Bytes& b) {
    put_u32(b, 4, static_cast<std::uint32_t>(b.size()));
}

}  // namespace codec_test

// Failure messages name the reason instead of printing the enum as a character.
template <>
struct Catch::StringMaker<gossipcluster::DecodeError> {
    static std::string convert(gossipcluster::DecodeError e) {
        return std::to_string(static_cast<int>(e)) + " (" +
               std::string(gossipcluster::describe(e)) + ")";
    }
};
