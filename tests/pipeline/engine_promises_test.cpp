// The engine's money and data promises under misbehaving providers: bounded reconciling,
// a fetch budget that spans minutes, impossible budgets, limits across restarts, providers
// that leave the configuration.
#include <catch2/catch.hpp>

#include "pipeline/engine.hpp"
#include "tests/pipeline/engine_fixtures.hpp"

namespace vd {
namespace {

const nlohmann::json kEmptyList = {
    {"object", "list"}, {"data", nlohmann::json::array()}, {"has_more", false}};

HttpResult reset_after_send() {
    HttpResult r;
    r.transport = TransportError::after_send;
    r.transport_message = "Connection reset by peer";
    return r;
}

// Runs the engine until nothing is due, answering every list with an empty page, and returns the
// creates it sent.
int run_with_empty_lists(Engine& e, TimePoint& t, const HttpResult& create_answer) {
    int creates = 0;
    for (int step = 0; step < 200; ++step) {
        auto cs = e.tick(t);
        for (const auto& s : sends(cs, Purpose::create)) {
            ++creates;
            e.on_http(s.job, Purpose::create, create_answer, t + Millis{100});
        }
        for (const auto& s : sends(cs, Purpose::list))
            e.on_http(s.job, Purpose::list, json(200, kEmptyList), t + Millis{100});
        auto next = e.next_wake();
        if (!next) break;
        t = std::max(t + Millis{200}, *next);
    }
    return creates;
}

}  // namespace

TEST_CASE("an ambiguous create is sent again at most once, then fails as ambiguous_create",
          "[engine]") {
    for (const auto& [what, answer] : std::vector<std::pair<std::string, HttpResult>>{
             {"reset after sending", reset_after_send()},
             {"200 without an id", json(200, {{"object", "video"}})},
             {"200 with a body that is not JSON", [] {
                  HttpResult r;
                  r.status = 200;
                  r.content_type = "text/html";
                  r.body = "<html>ok</html>";
                  return r;
              }()}}) {
        SECTION(what) {
            Engine e(settings(), 1);
            e.add("a", spec("a"), T0);
            TimePoint t = T0;
            int creates = run_with_empty_lists(e, t, answer);
            CHECK(creates == 2);  // the first, and one resubmit after two empty looks
            const Job* job = e.find("a");
            REQUIRE(job->state == State::failed);
            CHECK(job->error->code == "ambiguous_create");
            CHECK(job->error->stage == "submit");
            CHECK_THAT(job->error->message, Catch::Contains("sent at 2027-01-15T08:"));
            CHECK_THAT(job->error->message, Catch::Contains("2 create(s) sent in all"));
            CHECK_THAT(job->error->hint, Catch::Contains("dashboard"));
            // The reservation stays spent: the provider may have billed it.
            CHECK(e.ledger().total() == Approx(0.80));
            for (const auto& entry : e.ledger().entries())
                CHECK(entry.usd > 0);  // never refunded and charged again
        }
    }
}

TEST_CASE("reconcile.looks and resubmits bound the search", "[engine]") {
    Settings st = settings();
    st.reconcile.looks = 3;
    st.reconcile.resubmits = 0;
    Engine e(st, 1);
    e.add("a", spec("a"), T0);
    TimePoint t = T0;
    int lists = 0;
    for (int step = 0; step < 100 && e.find("a")->state != State::failed; ++step) {
        auto cs = e.tick(t);
        for (const auto& s : sends(cs, Purpose::create))
            e.on_http(s.job, Purpose::create, reset_after_send(), t);
        for (const auto& s : sends(cs, Purpose::list)) {
            ++lists;
            e.on_http(s.job, Purpose::list, json(200, kEmptyList), t);
        }
        t = std::max(t + Millis{100}, e.next_wake().value_or(t));
    }
    CHECK(lists == 3);
    CHECK(e.find("a")->submit_attempts == 1);
    CHECK(e.find("a")->error->code == "ambiguous_create");
}

TEST_CASE("job_timeout counts from the first create, whatever the job does since", "[engine]") {
    Settings st = settings();
    st.polling.job_timeout = Millis{10 * 60 * 1000};
    st.reconcile.looks = 10;  // the search alone would outlast the timeout
    Engine e(st, 1);
    add_and_submit(e, "a");
    e.on_http("a", Purpose::create, reset_after_send(), T0 + Millis{100});
    TimePoint t = T0 + Millis{100};
    while (!is_terminal(e.find("a")->state) && t < T0 + Millis{20 * 60 * 1000}) {
        auto cs = e.tick(t);
        for (const auto& s : sends(cs, Purpose::list))
            e.on_http(s.job, Purpose::list, json(200, kEmptyList), t);
        t = std::max(t + Millis{100}, e.next_wake().value_or(t + Millis{1000}));
    }
    REQUIRE(e.find("a")->state == State::failed);
    CHECK(e.find("a")->error->code == "ambiguous_create");
    CHECK(t <= T0 + st.polling.job_timeout + Millis{1000});
}

TEST_CASE("failed fetches of a paid video back off for minutes and share one counter", "[engine]") {
    Settings st = settings();
    st.verify.max_download_attempts = 4;
    Engine e(st, 1);
    add_and_submit(e, "a");
    e.on_http("a", Purpose::create, json(200, video("v1", "completed", 100, spec("a"), T0)),
              T0 + Millis{100});
    HttpResult cut;
    cut.transport = TransportError::after_send;
    cut.transport_message = "transfer closed with 1000 bytes remaining to read";
    TimePoint t = T0 + Millis{200};
    int fetches = 0;
    while (e.find("a")->state == State::downloading) {
        auto downloads = all<Download>(e.tick(t));
        if (downloads.empty()) {
            t = *e.next_wake();
            continue;
        }
        ++fetches;
        e.on_download("a", "video", {cut, 500}, t);
    }
    CHECK(fetches == 4);
    const Job* job = e.find("a");
    REQUIRE(job->state == State::failed);
    CHECK(job->error->stage == "download");
    CHECK(job->error->video_id == "v1");
    CHECK_THAT(job->error->hint, Catch::Contains("fetches it again (no new charge)"));
    // 30 s, 60 s, 120 s less jitter: the attempts span minutes, not seconds.
    CHECK(t - T0 >= Millis{157'000});
}

TEST_CASE("a refetch job downloads the paid video and creates nothing", "[engine]") {
    Engine e(settings(), 1);
    JobSpec s = spec("a");
    s.refetch_video_id = "video_paid";
    s.refetch_key_slot = 0;
    auto added = e.add("a2", s, T0);
    CHECK(e.find("a2")->state == State::downloading);
    auto cs = e.tick(T0);
    CHECK(sends(cs, Purpose::create).empty());
    auto downloads = all<Download>(cs);
    REQUIRE(downloads.size() == 1);
    CHECK_THAT(downloads[0].request.url, Catch::Contains("/videos/video_paid/content"));
    CHECK(e.ledger().total() == 0);
}

TEST_CASE("a job no budget can ever fit fails at once with over_budget", "[engine]") {
    Settings st = settings();
    st.budget.usd_total = 0.50;  // an 8 s job costs $0.80
    Engine e(st, 1);
    auto cs = e.add("a", spec("a"), T0);
    REQUIRE(all<Fail>(cs).size() == 1);
    CHECK(e.find("a")->error->code == "over_budget");
    CHECK(e.find("a")->error->stage == "budget");
    CHECK_THAT(e.find("a")->error->message, Catch::Contains("$0.80"));

    Settings daily = settings();
    daily.budget.usd_per_day = 0.50;
    Engine d(daily, 1);
    d.add("a", spec("a"), T0);
    CHECK(d.find("a")->error->code == "over_budget");
    CHECK_THAT(d.find("a")->error->message, Catch::Contains("usd_per_day"));
}

TEST_CASE("spend that leaves too little of usd_total fails the rest; a day cap waits for tomorrow",
          "[engine]") {
    Settings st = settings();
    st.budget.usd_total = 1.0;
    Engine e(st, 1);
    add_and_submit(e, "a");
    e.on_http("a", Purpose::create, json(200, video("v1", "queued", 0, spec("a"), T0)),
              T0 + Millis{100});
    e.add("b", spec("b"), T0 + Millis{200});
    e.tick(T0 + Millis{200});
    REQUIRE(e.find("b")->state == State::failed);  // $0.80 spent for good, $0.20 left
    CHECK(e.find("b")->error->code == "over_budget");

    Settings daily = settings();
    daily.budget.usd_per_day = 1.0;
    Engine d(daily, 1);
    add_and_submit(d, "a");
    d.add("b", spec("b"), T0 + Millis{200});
    d.tick(T0 + Millis{200});
    REQUIRE(d.find("b")->state == State::waiting);
    CHECK_THAT(d.find("b")->why, Catch::Contains("waits for the next UTC day (2027-01-16T00:00"));
    CHECK(d.only_budget_held() == false);
}

// What a restart reads back of the creates: every record's recent_creates, through the JSON the
// store writes.
std::vector<Scheduler::SentCreate> creates_of(const std::map<std::string, Job>& records) {
    std::vector<Scheduler::SentCreate> out;
    for (const auto& [id, job] : records) {
        Job back = nlohmann::json(job).get<Job>();
        for (const auto& c : back.recent_creates)
            out.push_back({back.spec.provider, c.slot, c.at});
    }
    return out;
}

TEST_CASE("the creates of the last minute and a pause survive a restart", "[engine]") {
    Settings st = settings(4);  // 4 creates a minute
    Engine before(st, 1);
    std::map<std::string, Job> records;
    for (int i = 0; i < 4; ++i) {  // one every 15 s, as the rate allows
        std::string name = "j" + std::to_string(i);
        before.add(name, spec(name), T0 + Millis{i * 15'000});
        for (const auto& c : before.tick(T0 + Millis{i * 15'000})) {
            if (auto* p = std::get_if<Persist>(&c)) records[p->job.id] = p->job;
            // Creates alone no longer rewrite STATE/limits.json: the records carry them.
            CHECK(!std::holds_alternative<SaveLimits>(c));
        }
    }
    // The records are written before the creates go: each holds its own.
    REQUIRE(creates_of(records).size() == 4);
    // A restart at 50 s: the four creates still fill the minute, although only finished jobs
    // may be left of them (the executor passes every record's creates).
    Engine after(st, 2);
    after.restore({}, {}, nullptr, creates_of(records), T0 + Millis{50'000});
    after.add("new", spec("new"), T0 + Millis{50'000});
    auto cs = after.tick(T0 + Millis{50'000});
    CHECK(sends(cs, Purpose::create).empty());
    CHECK_THAT(after.find("new")->why, Catch::Contains("submits_per_minute"));
    CHECK(sends(after.tick(T0 + Millis{59'000}), Purpose::create).empty());
    CHECK(sends(after.tick(T0 + Millis{65'000}), Purpose::create).size() == 1);
    // Without them it would have gone at once.
    Engine fresh(st, 3);
    fresh.add("new", spec("new"), T0 + Millis{50'000});
    CHECK(sends(fresh.tick(T0 + Millis{50'000}), Purpose::create).size() == 1);
    // A limits.json written by an earlier version holds the creates itself; it still counts.
    nlohmann::json old_limits = {{"schema", "videodrop.limits/1"},
                                 {"providers",
                                  {{"p",
                                    {{{"recent",
                                       {to_ms(T0 + Millis{20'000}), to_ms(T0 + Millis{21'000}),
                                        to_ms(T0 + Millis{22'000}), to_ms(T0 + Millis{23'000})}},
                                      {"hold_until", 0},
                                      {"slowdown", 1.0},
                                      {"paused", false}}}}}}};
    Engine upgraded(st, 4);
    upgraded.restore({}, {}, old_limits, {}, T0 + Millis{30'000});
    upgraded.add("new", spec("new"), T0 + Millis{30'000});
    CHECK(sends(upgraded.tick(T0 + Millis{30'000}), Purpose::create).empty());

    // One job that created twice within the minute (a 429, then again) counts twice: restarted
    // with 2 creates a minute, the key's minute is full.
    Engine retried(st, 1);
    std::map<std::string, Job> mine;
    auto keep = [&](const Commands& cs) {
        for (const auto& c : cs)
            if (auto* p = std::get_if<Persist>(&c)) mine[p->job.id] = p->job;
    };
    keep(add_and_submit(retried, "a"));
    keep(retried.on_http(
        "a", Purpose::create,
        json(429, {{"error", {{"code", "rate_limit_exceeded"}}}}, {{"retry-after-ms", "1000"}}),
        T0 + Millis{100}));
    keep(retried.tick(T0 + Millis{40'000}));
    REQUIRE(retried.find("a")->state == State::submitting);
    REQUIRE(creates_of(mine).size() == 2);
    Engine next(settings(2), 2);
    next.restore({}, {}, nullptr, creates_of(mine), T0 + Millis{45'000});
    next.add("b", spec("b"), T0 + Millis{45'000});
    CHECK(sends(next.tick(T0 + Millis{45'000}), Purpose::create).empty());
    CHECK(sends(next.tick(T0 + Millis{59'000}), Purpose::create).empty());
    // The first of the two left the window at T0 + 60 s, and the bucket (one token every
    // 30 s at 2 a minute, empty at the restart) has one 30 s after the second.
    CHECK(sends(next.tick(T0 + Millis{70'000}), Purpose::create).size() == 1);

    // A pause keeps its deadline.
    Engine paused(st, 1);
    add_and_submit(paused, "a");
    auto answer = paused.on_http("a", Purpose::create,
                                 json(401, {{"error", {{"code", "invalid_api_key"}}}}), T0);
    nlohmann::json snap;
    for (const auto& c : answer)
        if (auto* l = std::get_if<SaveLimits>(&c)) snap = l->limits;
    Engine restarted(st, 2);
    restarted.restore({}, {}, snap, {}, T0 + Millis{1000});
    CHECK(restarted.scheduler().paused("p"));
    restarted.add("b", spec("b"), T0 + Millis{1000});
    auto first = restarted.tick(T0 + Millis{1000});
    CHECK(sends(first, Purpose::create).empty());
    // The credentials are checked at once (a restart is how a fixed key is applied); only a
    // good answer lets creates go.
    auto checks = sends(first, Purpose::check);
    REQUIRE(checks.size() == 1);
    restarted.on_http(checks[0].job, Purpose::check, json(200, {{"data", nlohmann::json::array()}}),
                      T0 + Millis{1100});
    // (The 401'd create still counts against the key's minute: at 4 a minute, 15 s apart.)
    CHECK(sends(restarted.tick(T0 + Millis{16000}), Purpose::create).size() == 1);

    // A Retry-After hold keeps its deadline across the restart.
    Engine held(st, 1);
    add_and_submit(held, "a");
    auto limited = held.on_http(
        "a", Purpose::create,
        json(429, {{"error", {{"code", "rate_limit_exceeded"}}}}, {{"retry-after-ms", "40000"}}),
        T0);
    nlohmann::json hold;
    for (const auto& c : limited)
        if (auto* l = std::get_if<SaveLimits>(&c)) hold = l->limits;
    Engine again(st, 2);
    again.restore({}, {}, hold, {}, T0 + Millis{1000});
    again.add("b", spec("b"), T0 + Millis{1000});
    CHECK(sends(again.tick(T0 + Millis{1000}), Purpose::create).empty());
    CHECK(sends(again.tick(T0 + Millis{41000}), Purpose::create).size() == 1);
}

TEST_CASE("a job whose provider left the configuration fails with provider_gone", "[engine]") {
    Engine e(settings(), 1);
    add_and_submit(e, "a");
    e.on_http("a", Purpose::create, json(200, video("v1", "in_progress", 10, spec("a"), T0)),
              T0 + Millis{100});
    e.add("queued", spec("queued"), T0 + Millis{100});
    Settings without = settings();
    without.providers.clear();
    e.reconfigure(without);
    // Neither an answer for the job in flight nor the next tick may touch the missing provider.
    auto cs = e.on_http("a", Purpose::poll, json(200, video("v1", "completed", 100, spec("a"), T0)),
                        T0 + Millis{5000});
    e.tick(T0 + Millis{5000});
    CHECK(e.find("a")->error->code == "provider_gone");
    CHECK(e.find("a")->error->video_id == "v1");
    CHECK(e.find("queued")->error->code == "provider_gone");

    // At a restart, the same.
    Job recorded = e.find("a") ? *e.find("a") : Job{};
    recorded.state = State::in_progress;
    recorded.error.reset();
    Engine restarted(without, 2);
    auto restored = restarted.restore({recorded}, {}, nullptr, {}, T0 + Millis{9000});
    CHECK(restarted.find("a")->state == State::failed);
    CHECK(restarted.find("a")->error->code == "provider_gone");
    CHECK(all<Fail>(restored).size() == 1);
}

TEST_CASE("cancel keeps the charge of a job about to create again after a lost answer",
          "[engine]") {
    Engine e(settings(), 1);
    e.add("a", spec("a"), T0);
    TimePoint t = T0;
    // Up to the resubmit: first create lost, two empty looks.
    for (int step = 0; step < 50 && e.find("a")->resubmits == 0; ++step) {
        auto cs = e.tick(t);
        for (const auto& s : sends(cs, Purpose::create))
            e.on_http(s.job, Purpose::create, reset_after_send(), t);
        for (const auto& s : sends(cs, Purpose::list))
            e.on_http(s.job, Purpose::list, json(200, kEmptyList), t);
        t = std::max(t + Millis{100}, e.next_wake().value_or(t));
    }
    REQUIRE(e.find("a")->state == State::waiting);
    e.cancel("a", t);
    CHECK(e.ledger().total() == Approx(0.80));
}

}  // namespace vd

namespace vd {
namespace {

TEST_CASE("every download carries bounds derived from the job and the provider's waits are capped",
          "[engine]") {
    Settings st = settings();
    st.polling.max_provider_wait = Millis{60000};
    Engine e(st, 1);
    add_and_submit(e, "a");  // 8 s of sora-2
    // A poll-after of a day is cut to the minute allowed, and said so.
    auto polled = e.on_http("a", Purpose::create,
                            json(200, video("v1", "in_progress", 10, spec("a"), T0),
                                 {{"openai-poll-after-ms", "86400000"}}),
                            T0 + Millis{100});
    bool warned = false;
    for (const auto& l : all<Log>(polled))
        warned = warned || l.text.find("asked to wait 86400.0s (the provider's poll-after hint)") !=
                               std::string::npos;
    CHECK(warned);
    CHECK(e.find("a")->next_action <= T0 + Millis{100} + Millis{60000});

    e.on_http("a", Purpose::poll, json(200, video("v1", "completed", 100, spec("a"), T0)),
              T0 + Millis{200});
    auto downloads = all<Download>(e.tick(T0 + Millis{300}));
    REQUIRE(downloads.size() == 1);
    const int64_t limit = 8 * 200 * 125000 + 8 * 1024 * 1024;  // 8 s at 200 Mbit/s + 8 MiB
    CHECK(downloads[0].max_bytes == limit);
    CHECK(downloads[0].min_bytes_per_second == 32 * 1024);
    CHECK(downloads[0].low_speed_time == Millis{30000});
    CHECK(downloads[0].deadline == Millis{30000 + limit * 1000 / (32 * 1024)});
}

}  // namespace
}  // namespace vd
