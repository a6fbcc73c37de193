// TimerTable: named deadlines, the earliest of them, and what a cron run disarms.
#include <catch2/catch.hpp>

#include "gossipcluster/detail/timer_table.hpp"

namespace unit_timer_table_test {

using gossipcluster::detail::Timer;
using gossipcluster::detail::TimerTable;

TEST_CASE("[timers] an empty table has no deadline") {
    TimerTable timers;
    CHECK(timers.next() == TimerTable::kNever);
    CHECK_FALSE(timers.armed(Timer::Scan));
    CHECK_FALSE(timers.expired(Timer::Election, 1'000'000));
}

TEST_CASE("[timers] the next deadline is the earliest armed one") {
    TimerTable timers;
    timers.set(Timer::Housekeeping, 1000);
    timers.set(Timer::Scan, 700);
    timers.set(Timer::Election, 900);
    CHECK(timers.next() == 700);
    timers.cancel(Timer::Scan);
    CHECK(timers.next() == 900);
}

TEST_CASE("[timers] arming one purpose never moves another") {
    // The fault a single shared deadline had: the cron wrote its own next time over an
    // election's earlier wake-up.
    TimerTable timers;
    timers.set(Timer::Election, 250);
    timers.set(Timer::Periodic, 400);
    timers.set(Timer::Scan, 5000);
    CHECK(timers.next() == 250);
    CHECK(timers.at(Timer::Election) == 250);
}

TEST_CASE("[timers] lower only brings a deadline forward") {
    TimerTable timers;
    timers.lower(Timer::Wake, 300);
    CHECK(timers.at(Timer::Wake) == 300);
    timers.lower(Timer::Wake, 500);
    CHECK(timers.at(Timer::Wake) == 300);
    timers.lower(Timer::Wake, 100);
    CHECK(timers.at(Timer::Wake) == 100);
    // set moves it either way.
    timers.set(Timer::Wake, 800);
    CHECK(timers.at(Timer::Wake) == 800);
}

TEST_CASE("[timers] a cron run disarms exactly what was due") {
    TimerTable timers;
    timers.set(Timer::Wake, 0);
    timers.set(Timer::Scan, 100);
    timers.set(Timer::Election, 101);
    timers.set(Timer::ElectionRetry, 99);
    timers.cancel_expired(100);
    CHECK_FALSE(timers.armed(Timer::Wake));
    CHECK_FALSE(timers.armed(Timer::Scan));
    CHECK_FALSE(timers.armed(Timer::ElectionRetry));
    CHECK(timers.at(Timer::Election) == 101);
    CHECK(timers.next() == 101);
    CHECK(timers.expired(Timer::Election, 101));
    CHECK_FALSE(timers.expired(Timer::Election, 100));
}

}  // namespace unit_timer_table_test
