// The one translation unit of this test program that holds Catch2's main().
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
