// Reasons the cluster-bus codec rejects a frame, and what the link should do about each.
#pragma once

#include <cstdint>
#include <string_view>

namespace gossipcluster {

// One value per distinct rejection reason, so that logs and tests can tell them apart.
enum class DecodeError : std::uint8_t {
    None = 0,
    // Framing: the 8-byte prefix and the total length.
    Truncated,               // fewer bytes than the 8-byte signature + length prefix
    BadSignature,            // first four bytes are not "RCmb"
    TotlenTooSmall,          // totlen below the 2256-byte header (16 for a light header)
    TotlenTooLarge,          // totlen above our configured maximum frame size
    TotlenMismatch,          // totlen disagrees with the number of bytes handed to decode
    BadVersion,              // protocol version other than 1 (Redis ignores these silently)
    LightHeaderUnsupported,  // Valkey 16-byte light header (type bit 0x8000)
    UnknownType,             // message type above PUBLISHSHARD
    // Header fields.
    InvalidSender,     // sender is not a 40-char [a-z0-9] node name
    InvalidSlaveof,    // slaveof is neither all-NUL nor a valid node name
    MyIpUnterminated,  // myip has no NUL within its 46 bytes
    // PING / PONG / MEET bodies.
    GossipBeyondFrame,          // count * 104 does not fit in the frame
    InvalidGossipNode,          // a gossip entry's node name is invalid
    GossipIpUnterminated,       // a gossip entry's ip has no NUL within its 46 bytes
    TooManyExtensions,          // header extension count above CodecLimits::max_extensions
    ExtensionMissing,           // the frame ends before the announced number of extension records
    ExtensionBeyondFrame,       // an extension record (header or length) runs past the frame end
    ExtensionTooShort,          // an extension record length below its 8-byte record header
    ExtensionUnaligned,         // an extension record length that is not a multiple of 8
    HostnameUnterminated,       // HOSTNAME payload without a NUL terminator
    HostnameTooLong,            // HOSTNAME longer than 255 characters
    HumanNodenameUnterminated,  // HUMAN_NODENAME payload without a NUL terminator
    HumanNodenameTooLong,       // HUMAN_NODENAME longer than 255 characters
    ForgottenNodeTooShort,      // FORGOTTEN_NODE payload below 48 bytes
    ForgottenNodeInvalidId,     // FORGOTTEN_NODE carries an invalid node name
    ShardIdTooShort,            // SHARDID payload below 40 bytes
    ShardIdInvalid,             // SHARDID is not a 40-char [a-z0-9] id
    TrailingBytes,              // bytes left after the gossip section and extension records
    // Other bodies.
    FailLengthMismatch,        // FAIL frame is not exactly 2296 bytes
    InvalidFailNode,           // FAIL names an invalid node
    PublishTruncated,          // PUBLISH frame too short for its two length fields
    PublishLengthMismatch,     // 2264 + channel_len + message_len differs from totlen
    HeaderOnlyLengthMismatch,  // AUTH_REQUEST / AUTH_ACK / MFSTART with payload bytes
    UpdateLengthMismatch,      // UPDATE frame is not exactly 4352 bytes
    InvalidUpdateNode,         // UPDATE names an invalid node
    ModuleTruncated,           // MODULE frame too short for id, length and type
    ModuleLengthMismatch,      // 2269 + len differs from totlen
};
// The highest value, for code that walks every reason (keep it last when adding one).
inline constexpr DecodeError kLastDecodeError = DecodeError::ModuleLengthMismatch;

// What a connection does with a frame that failed to decode.
enum class DecodeAction : std::uint8_t {
    Accept,     // the frame is valid
    DropFrame,  // ignore this frame, keep the link (Redis returns 1 from packet processing)
    CloseLink,  // the byte stream cannot be trusted any more (Redis frees the link)
};

constexpr std::string_view describe(DecodeError e) {
    switch (e) {
        case DecodeError::None:
            return "the frame is valid";
        case DecodeError::Truncated:
            return "the frame is shorter than the 8-byte signature and length prefix";
        case DecodeError::BadSignature:
            return "the frame does not start with the signature RCmb";
        case DecodeError::TotlenTooSmall:
            return "the announced total length is below the minimum message size";
        case DecodeError::TotlenTooLarge:
            return "the announced total length is above the configured maximum frame size";
        case DecodeError::TotlenMismatch:
            return "the announced total length differs from the size of the frame";
        case DecodeError::BadVersion:
            return "the protocol version is not 1";
        case DecodeError::LightHeaderUnsupported:
            return "the frame uses the light header, which is not supported";
        case DecodeError::UnknownType:
            return "the message type is unknown";
        case DecodeError::InvalidSender:
            return "the sender is not a valid 40-character node name";
        case DecodeError::InvalidSlaveof:
            return "slaveof is neither empty nor a valid 40-character node name";
        case DecodeError::MyIpUnterminated:
            return "the myip field has no NUL terminator";
        case DecodeError::GossipBeyondFrame:
            return "the gossip count announces more entries than the frame holds";
        case DecodeError::InvalidGossipNode:
            return "a gossip entry does not name a valid 40-character node";
        case DecodeError::GossipIpUnterminated:
            return "a gossip entry's ip field has no NUL terminator";
        case DecodeError::TooManyExtensions:
            return "the extension count is above the configured maximum";
        case DecodeError::ExtensionMissing:
            return "the frame ends before all announced extension records";
        case DecodeError::ExtensionBeyondFrame:
            return "an extension record runs past the end of the frame";
        case DecodeError::ExtensionTooShort:
            return "an extension record is shorter than its 8-byte record header";
        case DecodeError::ExtensionUnaligned:
            return "an extension record length is not a multiple of 8";
        case DecodeError::HostnameUnterminated:
            return "the hostname extension has no NUL terminator";
        case DecodeError::HostnameTooLong:
            return "the hostname extension is longer than 255 characters";
        case DecodeError::HumanNodenameUnterminated:
            return "the human node name extension has no NUL terminator";
        case DecodeError::HumanNodenameTooLong:
            return "the human node name extension is longer than 255 characters";
        case DecodeError::ForgottenNodeTooShort:
            return "the forgotten-node extension is shorter than 48 bytes";
        case DecodeError::ForgottenNodeInvalidId:
            return "the forgotten-node extension does not name a valid node";
        case DecodeError::ShardIdTooShort:
            return "the shard-id extension is shorter than 40 bytes";
        case DecodeError::ShardIdInvalid:
            return "the shard-id extension is not a valid 40-character id";
        case DecodeError::TrailingBytes:
            return "bytes remain after the gossip section and extension records";
        case DecodeError::FailLengthMismatch:
            return "a FAIL message is not exactly 2296 bytes";
        case DecodeError::InvalidFailNode:
            return "a FAIL message does not name a valid 40-character node";
        case DecodeError::PublishTruncated:
            return "a PUBLISH message is too short for its channel and message lengths";
        case DecodeError::PublishLengthMismatch:
            return "a PUBLISH message's channel and message lengths disagree with its size";
        case DecodeError::HeaderOnlyLengthMismatch:
            return "a header-only message carries payload bytes";
        case DecodeError::UpdateLengthMismatch:
            return "an UPDATE message is not exactly 4352 bytes";
        case DecodeError::InvalidUpdateNode:
            return "an UPDATE message does not name a valid 40-character node";
        case DecodeError::ModuleTruncated:
            return "a MODULE message is too short for its id, length and type";
        case DecodeError::ModuleLengthMismatch:
            return "a MODULE message's payload length disagrees with its size";
    }
    return "unknown decode error";
}

// CloseLink exactly where Redis frees the link (bad prefix); everything else drops one frame.
constexpr DecodeAction action_for(DecodeError e) {
    switch (e) {
        case DecodeError::None:
            return DecodeAction::Accept;
        case DecodeError::BadSignature:
        case DecodeError::TotlenTooSmall:
        case DecodeError::TotlenTooLarge:
            return DecodeAction::CloseLink;
        default:
            return DecodeAction::DropFrame;
    }
}

}  // namespace gossipcluster
