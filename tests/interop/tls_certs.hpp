// Test certificates made at test time with the openssl tool: a CA, node certificates it signs,
// and a second, unrelated CA with a node of its own. No key ever leaves the test's directory.
// Certificates may name a node id (AsioTlsOptions::bind_node_id) as CN or DNS alternative name.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "process_harness.hpp"

namespace gossipcluster::interop_test {

inline constexpr const char* kOpensslPath = "/usr/bin/openssl";

struct CertFiles {
    fs::path cert;
    fs::path key;
};

// Everything under `dir`/tls. EC P-256 keys: quick to make, and what a real deployment might use.
class TestCertificates {
  public:
    explicit TestCertificates(const fs::path& dir) : dir_(dir / "tls") {
        fs::create_directories(dir_);
        make_ca("ca");
        make_ca("wrong-ca");
    }

    fs::path ca() const { return dir_ / "ca.crt"; }
    fs::path wrong_ca() const { return dir_ / "wrong-ca.crt"; }

    // A certificate for `name` (its CN) signed by the test CA (or by the wrong one).
    CertFiles issue(const std::string& name, bool by_wrong_ca = false) {
        return issue_named(name, name, {}, by_wrong_ca);
    }

    // A certificate kept as `name`, whose subject CN is `common_name` and whose subject
    // alternative names are the DNS names `dns_names` (none: no such extension).
    CertFiles issue_named(const std::string& name, const std::string& common_name,
                          const std::vector<std::string>& dns_names, bool by_wrong_ca = false) {
        const std::string issuer = by_wrong_ca ? "wrong-ca" : "ca";
        const CertFiles out{dir_ / (name + ".crt"), dir_ / (name + ".key")};
        run({kOpensslPath, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", out.key.string(), "-out", (dir_ / (name + ".csr")).string(),
             "-subj", "/CN=" + common_name},
            name + "-csr");
        std::vector<std::string> sign{kOpensslPath,
                                      "x509",
                                      "-req",
                                      "-in",
                                      (dir_ / (name + ".csr")).string(),
                                      "-CA",
                                      (dir_ / (issuer + ".crt")).string(),
                                      "-CAkey",
                                      (dir_ / (issuer + ".key")).string(),
                                      "-CAcreateserial",
                                      "-days",
                                      "2",
                                      "-out",
                                      out.cert.string()};
        if (!dns_names.empty()) {
            // `x509 -req` copies no extension from the request: they come from a file.
            std::string san = "subjectAltName=";
            for (std::size_t i = 0; i < dns_names.size(); ++i)
                san += (i == 0 ? "DNS:" : ",DNS:") + dns_names[i];
            const fs::path ext = dir_ / (name + ".ext");
            test_common::write_file(ext, san + "\n");
            sign.insert(sign.end(), {"-extfile", ext.string()});
        }
        run(sign, name + "-sign");
        return out;
    }

  private:
    void make_ca(const std::string& name) {
        run({kOpensslPath, "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", (dir_ / (name + ".key")).string(),
             "-out", (dir_ / (name + ".crt")).string(), "-days", "2", "-subj",
             "/CN=gossipcluster test " + name},
            name);
    }

    void run(const std::vector<std::string>& args, const std::string& step) {
        const fs::path out = dir_ / (step + ".out");
        Process p(args, out);
        const auto status = p.wait(std::chrono::seconds(20));
        if (!status || !exited_with(*status, 0))
            throw std::runtime_error(fmt::format("openssl ({}) failed: {}", step, read_file(out)));
    }

    fs::path dir_;
};

}  // namespace gossipcluster::interop_test
