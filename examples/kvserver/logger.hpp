// Logger: redis-server's log line format written to a pluggable sink (stdout, a file, a test).
#pragma once

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "options.hpp"

namespace kvserver {

// Receives whole lines, newline included.
using LogSink = std::function<void(std::string_view line)>;

inline LogSink stdout_sink() {
    return [](std::string_view line) {
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fflush(stdout);
    };
}

// Appends to `path`, created if needed. Throws std::system_error when it cannot be opened.
inline LogSink file_sink(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "a");
    if (!f) throw std::system_error(errno, std::generic_category(), "cannot open log file " + path);
    std::shared_ptr<std::FILE> file(f, [](std::FILE* p) { std::fclose(p); });
    return [file](std::string_view line) {
        std::fwrite(line.data(), 1, line.size(), file.get());
        std::fflush(file.get());
    };
}

// `<pid>:M 22 Nov 2026 04:58:58.813 * message`, the marks being '.' debug, '-' verbose,
// '*' notice and '#' warning, as redis-server writes them.
class Logger {
  public:
    explicit Logger(LogSink sink, LogLevel min_level = LogLevel::kNotice)
        : sink_(std::move(sink)), min_level_(min_level), pid_(::getpid()) {}

    void set_sink(LogSink sink) { sink_ = std::move(sink); }
    void set_level(LogLevel level) { min_level_ = level; }
    bool enabled(LogLevel level) const { return level >= min_level_; }

    void log(LogLevel level, std::string_view message) {
        if (!enabled(level) || !sink_) return;
        sink_(format_line(level, message));
    }

    template <typename... Args>
    void debug(fmt::format_string<Args...> f, Args&&... args) {
        if (enabled(LogLevel::kDebug))
            log(LogLevel::kDebug, fmt::format(f, std::forward<Args>(args)...));
    }
    template <typename... Args>
    void verbose(fmt::format_string<Args...> f, Args&&... args) {
        if (enabled(LogLevel::kVerbose))
            log(LogLevel::kVerbose, fmt::format(f, std::forward<Args>(args)...));
    }
    template <typename... Args>
    void notice(fmt::format_string<Args...> f, Args&&... args) {
        if (enabled(LogLevel::kNotice))
            log(LogLevel::kNotice, fmt::format(f, std::forward<Args>(args)...));
    }
    template <typename... Args>
    void warning(fmt::format_string<Args...> f, Args&&... args) {
        log(LogLevel::kWarning, fmt::format(f, std::forward<Args>(args)...));
    }

    std::string format_line(LogLevel level, std::string_view message) const {
        using namespace std::chrono;
        const auto now = system_clock::now();
        const std::time_t secs = system_clock::to_time_t(now);
        const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
        std::tm tm{};
        ::localtime_r(&secs, &tm);
        char stamp[64];
        const std::size_t len = std::strftime(stamp, sizeof stamp, "%d %b %Y %H:%M:%S", &tm);
        static constexpr char kMarks[] = {'.', '-', '*', '#'};
        std::string line = fmt::format("{}:M {}.{:03} {} ", pid_, std::string_view(stamp, len), ms,
                                       kMarks[static_cast<int>(level)]);
        // One event, one line: text that came from peers or clients cannot start a new one.
        for (char c : message)
            line += (c == '\n' || c == '\r') ? ' ' : c;
        line += '\n';
        return line;
    }

  private:
    LogSink sink_;
    LogLevel min_level_;
    pid_t pid_;
};

}  // namespace kvserver
