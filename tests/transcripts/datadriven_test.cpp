// The transcript file format: blocks, arguments, comments, rewrites that keep the rest verbatim.
#include <catch2/catch.hpp>

#include "datadriven.hpp"
#include "text_diff.hpp"

namespace transcripts_datadriven_test {

using namespace transcripts;

TEST_CASE("[transcripts] blocks, arguments and expected outputs are parsed", "[scenario]") {
    const std::string text =
        "# A comment.\n"
        "\n"
        "cluster masters=3 replicas=1 epochs=1,1,2\n"
        "----\n"
        "n0: master\n"
        "n1: master\n"
        "\n"
        "  # indented comment\n"
        "run-until converged max=500\n"
        "----\n"
        "\n"
        "heal\n"
        "----\n"
        "done\n"
        "# trailing comment\n";
    const DataFile f = parse(text);
    REQUIRE(f.directives.size() == 3);
    const Directive& c = f.directives[0];
    CHECK(c.line == 3);
    CHECK(c.command == "cluster");
    REQUIRE(c.args.size() == 3);
    CHECK(c.args[0].key == "masters");
    CHECK(c.args[0].values == std::vector<std::string>{"3"});
    CHECK(c.find("epochs")->values == std::vector<std::string>{"1", "1", "2"});
    CHECK(c.find("seed") == nullptr);
    CHECK(c.expected == "n0: master\nn1: master\n");
    CHECK(c.before == "# A comment.\n\ncluster masters=3 replicas=1 epochs=1,1,2\n----\n");
    const Directive& r = f.directives[1];
    CHECK(r.line == 9);
    CHECK(r.args[0].key == "converged");
    CHECK(r.args[0].values.empty());
    CHECK(r.expected.empty());
    // An expected output runs to the next blank line: a `#` line right after it belongs to it.
    CHECK(f.directives[2].expected == "done\n# trailing comment\n");
    CHECK(f.trailer.empty());
    // Rendering unchanged gives the file back byte for byte.
    CHECK(render(f) == text);
}

TEST_CASE("[transcripts] a rewrite replaces only the expected outputs", "[scenario]") {
    const std::string text =
        "# story\nadvance ms=5\n----\nold\n\nview node=1\n----\nsame\n\n# end\n";
    const DataFile f = parse(text);
    REQUIRE(f.directives.size() == 2);
    CHECK(f.trailer == "\n# end\n");
    CHECK(render(f, {std::string("new 1\nnew 2\n"), std::nullopt}) ==
          "# story\nadvance ms=5\n----\nnew 1\nnew 2\n\nview node=1\n----\nsame\n\n# end\n");
    // An empty actual output leaves the separator followed by the blank line.
    CHECK(render(f, {std::string(), std::string()}) ==
          "# story\nadvance ms=5\n----\n\nview node=1\n----\n\n# end\n");
    CHECK(parse(render(f, {std::string(), std::string()})).directives.size() == 2);
}

TEST_CASE("[transcripts] malformed files are refused with the line", "[scenario]") {
    CHECK_THROWS_WITH(parse("crash node=1\nadvance ms=1\n"),
                      Catch::Contains("line 1") && Catch::Contains("----"));
    CHECK_THROWS_WITH(parse("\ncrash node=\n----\n"), Catch::Contains("line 2"));
    CHECK_THROWS_WITH(parse("crash =1\n----\n"), Catch::Contains("without a name"));
}

TEST_CASE("[transcripts] the diff marks lines only expected and only actual", "[scenario]") {
    CHECK(line_diff("a\nb\nc\n", "a\nx\nc\n") == "  a\n- b\n+ x\n  c\n");
    CHECK(line_diff("", "new\n") == "+ new\n");
    CHECK(line_diff("same\n", "same\n") == "  same\n");
    // Context: only the lines near a change, the rest elided.
    CHECK(line_diff("1\n2\n3\n4\n5\n6\n", "1\n2\n3\n4\nx\n6\n", 1) ==
          "  ...\n  4\n- 5\n+ x\n  6\n");
}

}  // namespace transcripts_datadriven_test
