// Fuzz target: decode any bytes; whatever decodes must re-encode to a frame that decodes equal.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <vector>

#include "fuzz_check.hpp"
#include "gossipcluster/codec.hpp"
#include "gossipcluster/message_format.hpp"

using namespace gossipcluster;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> frame(data, size);
    Message m;
    const DecodeError e = decode(frame, m);
    if (e != DecodeError::None) {
        FUZZ_CHECK(!describe(e).empty());
        FUZZ_CHECK(action_for(e) != DecodeAction::Accept);
        return 0;
    }
    FUZZ_CHECK(size >= kHeaderSize);

    std::vector<std::uint8_t> again;
    try {
        encode(m, again);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "a decoded message does not encode: %s\n", ex.what());
        std::abort();
    }
    FUZZ_CHECK(again.size() == encoded_size(m));
    // Reserved bytes, bytes after NUL terminators and extra padding of string extensions are not
    // kept, so the re-encoding may differ from the input (and be shorter), but never longer, and
    // it must decode to the same message.
    FUZZ_CHECK(again.size() <= size);
    Message m2;
    FUZZ_CHECK(decode(again, m2) == DecodeError::None);
    FUZZ_CHECK(m2 == m);
    // Encoding is a function of the message: a second round trip is byte-identical.
    FUZZ_CHECK(encode(m2) == again);

    // Decoding into a message that already holds another one gives the same result.
    Message reused = m2;
    FUZZ_CHECK(decode(frame, reused) == DecodeError::None);
    FUZZ_CHECK(reused == m);

    // The renderings accept whatever decodes: one line of JSON, text ending in a newline.
    const std::string json = format_message_json(m, size);
    FUZZ_CHECK(!json.empty() && json.front() == '{' && json.back() == '}');
    FUZZ_CHECK(json.find('\n') == std::string::npos);
    const std::string text = format_message_text(m, size);
    FUZZ_CHECK(!text.empty() && text.back() == '\n');
    return 0;
}
