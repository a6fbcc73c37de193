// GOSSIPCLUSTER_INLINE: `inline` in header-only mode, nothing when the library is compiled once.
#pragma once

// In the default mode the protocol's non-template definitions live in the compiled gossipcluster
// library (src/*.cpp), and the headers only declare them. With GOSSIPCLUSTER_HEADER_ONLY the
// headers include those definitions themselves, so they must be inline to be defined in every
// translation unit.
#ifdef GOSSIPCLUSTER_HEADER_ONLY
#define GOSSIPCLUSTER_INLINE inline
#else
#define GOSSIPCLUSTER_INLINE
#endif
