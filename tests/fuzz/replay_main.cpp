// Replays a fuzz target without libFuzzer: every given file, then seeded mutations of each.
//
// usage: gossipcluster_fuzz_replay_<name> [--mutations N] [--seed S] PATH...
// A PATH is a file or a directory (its regular files, sorted by name). Mutations are drawn from
// a fixed-seed generator, so a failing run reproduces exactly; the target aborts on a violation,
// and the input it was running is then written to ./replay-crash-input for a direct replay.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using Bytes = std::vector<std::uint8_t>;

// splitmix64: tiny, and the same sequence on every standard library.
struct Rng {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
};

constexpr std::size_t kMaxInput = 70000;  // the same bound as the libFuzzer runs' -max_len

// Interesting values for length and count fields.
constexpr std::uint32_t kMagic[] = {0,    1,     7,     8,          15,        16,   40,
                                    104,  255,   256,   2255,       2256,      2257, 2296,
                                    4352, 65535, 65536, 0x7fffffff, 0xffffffff};

void put_be32(Bytes& b, std::size_t at, std::uint32_t v) {
    for (std::size_t i = 0; i < 4 && at + i < b.size(); ++i)
        b[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

Bytes mutate(const Bytes& in, const std::vector<Bytes>& corpus, Rng& rng) {
    Bytes b = in;
    const std::size_t rounds = 1 + rng.below(4);
    for (std::size_t r = 0; r < rounds; ++r) {
        switch (rng.below(8)) {
            case 0:  // flip a bit
                if (!b.empty())
                    b[rng.below(b.size())] ^= static_cast<std::uint8_t>(1u << rng.below(8));
                break;
            case 1:  // random byte
                if (!b.empty()) b[rng.below(b.size())] = static_cast<std::uint8_t>(rng.next());
                break;
            case 2:  // a magic value at an aligned-ish offset (length and count fields)
                if (!b.empty())
                    put_be32(b, rng.below(b.size()) & ~std::size_t{1},
                             kMagic[rng.below(std::size(kMagic))]);
                break;
            case 3:  // truncate
                b.resize(rng.below(b.size() + 1));
                break;
            case 4: {  // insert random bytes
                const std::size_t at = rng.below(b.size() + 1);
                Bytes ins(1 + rng.below(16));
                for (auto& x : ins)
                    x = static_cast<std::uint8_t>(rng.next());
                b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), ins.begin(), ins.end());
                break;
            }
            case 5: {  // erase a run
                if (b.empty()) break;
                const std::size_t at = rng.below(b.size());
                const std::size_t n = std::min(b.size() - at, 1 + rng.below(64));
                b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                        b.begin() + static_cast<std::ptrdiff_t>(at + n));
                break;
            }
            case 6: {  // append another input (streams of several frames)
                const Bytes& other = corpus[rng.below(corpus.size())];
                b.insert(b.end(), other.begin(), other.end());
                break;
            }
            default: {  // copy a run of bytes over another place
                if (b.size() < 2) break;
                const std::size_t from = rng.below(b.size());
                const std::size_t to = rng.below(b.size());
                const std::size_t n = std::min({b.size() - from, b.size() - to, 1 + rng.below(64)});
                std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(from), n,
                            b.begin() + static_cast<std::ptrdiff_t>(to));
                break;
            }
        }
    }
    if (b.size() > kMaxInput) b.resize(kMaxInput);
    return b;
}

// The input being run, for the abort handler.
const Bytes* g_current = nullptr;

extern "C" void save_current_input(int sig) {
    // Only async-signal-safe calls here.
    if (g_current != nullptr) {
        const int fd = ::open("replay-crash-input", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            std::size_t done = 0;
            while (done < g_current->size()) {
                const ssize_t n = ::write(fd, g_current->data() + done, g_current->size() - done);
                if (n <= 0) break;
                done += static_cast<std::size_t>(n);
            }
            ::close(fd);
            static const char msg[] = "the failing input is in ./replay-crash-input\n";
            (void)!::write(2, msg, sizeof msg - 1);
        }
    }
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

void run_one(const Bytes& b) {
    g_current = &b;
    LLVMFuzzerTestOneInput(b.data(), b.size());
    g_current = nullptr;
}

bool read_file(const std::filesystem::path& p, Bytes& out) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (out.size() > kMaxInput) out.resize(kMaxInput);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t mutations = 0;
    std::uint64_t seed = 1;
    std::vector<std::filesystem::path> files;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--mutations" && i + 1 < argc) {
            mutations = std::strtoull(argv[++i], nullptr, 10);
        } else if (arg == "--seed" && i + 1 < argc) {
            seed = std::strtoull(argv[++i], nullptr, 10);
        } else if (std::filesystem::is_directory(arg)) {
            std::vector<std::filesystem::path> in_dir;
            for (const auto& e : std::filesystem::directory_iterator(arg))
                if (e.is_regular_file()) in_dir.push_back(e.path());
            std::sort(in_dir.begin(), in_dir.end());
            files.insert(files.end(), in_dir.begin(), in_dir.end());
        } else if (std::filesystem::is_regular_file(arg)) {
            files.emplace_back(arg);
        } else {
            std::fprintf(stderr,
                         "usage: %s [--mutations N] [--seed S] FILE|DIR...\n"
                         "no such file or directory: %s\n",
                         argv[0], arg.c_str());
            return 2;
        }
    }
    if (files.empty()) {
        std::fprintf(stderr, "%s: no input files\n", argv[0]);
        return 2;
    }

    std::vector<Bytes> corpus;
    for (const auto& f : files) {
        Bytes b;
        if (!read_file(f, b)) {
            std::fprintf(stderr, "%s: cannot read %s\n", argv[0], f.string().c_str());
            return 2;
        }
        corpus.push_back(std::move(b));
    }

    std::signal(SIGABRT, save_current_input);
    std::signal(SIGSEGV, save_current_input);
    std::size_t runs = 0;
    for (const auto& b : corpus) {
        run_one(b);
        ++runs;
    }
    Rng rng{seed};
    for (std::size_t i = 0; i < corpus.size(); ++i) {
        for (std::size_t k = 0; k < mutations; ++k) {
            const Bytes m = mutate(corpus[i], corpus, rng);
            run_one(m);
            ++runs;
        }
    }
    std::printf("%zu inputs replayed (%zu files, %zu mutations each, seed %llu)\n", runs,
                corpus.size(), mutations, static_cast<unsigned long long>(seed));
    return 0;
}
