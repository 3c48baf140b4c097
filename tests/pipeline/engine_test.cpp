// The engine's rules, one named situation each, without sockets, files or sleeps.
#include <catch2/catch.hpp>

#include "pipeline/engine.hpp"
#include "tests/pipeline/engine_fixtures.hpp"

namespace vd {

TEST_CASE("a job is recorded as submitting before its create goes out", "[engine]") {
    Engine e(settings(), 1);
    auto added = e.add("a", spec("a"), T0);
    REQUIRE(all<Persist>(added).size() == 1);
    auto cs = e.tick(T0);
    int persist = index_of<Persist>(cs);
    int send = index_of<SendHttp>(cs);
    REQUIRE(persist >= 0);
    REQUIRE(send > persist);
    CHECK(std::get<Persist>(cs[persist]).job.state == State::submitting);
    CHECK(std::get<SendHttp>(cs[send]).request.method == "POST");
    CHECK(e.ledger().total() == Approx(0.80));
}

TEST_CASE("the provider's id is recorded before the first poll", "[engine]") {
    Engine e(settings(), 1);
    add_and_submit(e, "a");
    auto cs = e.on_http("a", Purpose::create,
                        json(200, video("video_1", "queued", 0, spec("a"), T0)), T0 + Millis{200});
    auto persisted = all<Persist>(cs);
    REQUIRE(!persisted.empty());
    CHECK(persisted.back().job.video_id == "video_1");
    CHECK(sends(cs, Purpose::poll).empty());
    auto later = e.tick(T0 + Millis{60000});
    REQUIRE(sends(later, Purpose::poll).size() == 1);
    CHECK(sends(later, Purpose::poll)[0].request.url == "http://p.test/v1/videos/video_1");
}

TEST_CASE("429 with retry-after-ms defers the submit, refunds and slows the rate", "[engine]") {
    Engine e(settings(), 1);
    add_and_submit(e, "a");
    auto r = json(429, {{"error", {{"code", "rate_limit_exceeded"}, {"message", "slow down"}}}},
                  {{"retry-after-ms", "5000"}});
    auto cs = e.on_http("a", Purpose::create, r, T0 + Millis{100});
    CHECK(e.find("a")->state == State::waiting);
    CHECK(e.ledger().total() == Approx(0.0));
    CHECK(e.scheduler().key("p", 0)->slowdown == Approx(0.5));
    CHECK(sends(e.tick(T0 + Millis{2000}), Purpose::create).empty());
    CHECK(sends(e.tick(T0 + Millis{5200}), Purpose::create).size() == 1);
}

TEST_CASE("after a burst of 429s the creates resume one at a time at the halved rate", "[engine]") {
    Engine e(settings(60), 1);  // 60 a minute; the bucket lets 6 go at once
    for (const char* name : {"a", "b", "c", "d", "e"})
        e.add(name, spec(name), T0);
    REQUIRE(sends(e.tick(T0), Purpose::create).size() == 5);
    auto r = json(429, {{"error", {{"code", "rate_limit_exceeded"}, {"message", "slow down"}}}},
                  {{"retry-after-ms", "2000"}});
    for (const char* name : {"a", "b", "c", "d", "e"})
        e.on_http(name, Purpose::create, r, T0 + Millis{100});
    // One burst is one sign to slow down, not five.
    CHECK(e.scheduler().key("p", 0)->slowdown == Approx(0.5));
    CHECK(sends(e.tick(T0 + Millis{2000}), Purpose::create).empty());
    // At 30 a minute: one create when the hold ends, the next two seconds later.
    CHECK(sends(e.tick(T0 + Millis{2100}), Purpose::create).size() == 1);
    CHECK(sends(e.tick(T0 + Millis{3000}), Purpose::create).empty());
    CHECK(sends(e.tick(T0 + Millis{4100}), Purpose::create).size() == 1);
    CHECK(sends(e.tick(T0 + Millis{4200}), Purpose::create).empty());
}

TEST_CASE("a 503 on a create slows the rate and waits out its Retry-After before looking",
          "[engine]") {
    Engine e(settings(), 1);
    add_and_submit(e, "a");
    e.on_http("a", Purpose::create,
              json(503, {{"error", {{"message", "overloaded"}}}}, {{"retry-after", "20"}}),
              T0 + Millis{100});
    REQUIRE(e.find("a")->state == State::reconciling);
    CHECK(e.scheduler().key("p", 0)->slowdown == Approx(0.5));
    CHECK(e.scheduler().key("p", 0)->hold_until == T0 + Millis{20100});
    CHECK(sends(e.tick(T0 + Millis{10000}), Purpose::list).empty());
    CHECK(sends(e.tick(T0 + Millis{20200}), Purpose::list).size() == 1);
}

TEST_CASE("cancel gives back a queued job's reservation but keeps a submitted job's charge",
          "[engine]") {
    Engine e(settings(60, 1), 1);
    add_and_submit(e, "a");
    e.add("b", spec("b"), T0);
    e.tick(T0);  // b waits: max_in_flight is 1
    REQUIRE(e.find("b")->state == State::waiting);
    e.on_http("a", Purpose::create, json(200, video("video_1", "queued", 0, spec("a"), T0)),
              T0 + Millis{200});
    REQUIRE(e.find("a")->state == State::queued);
    CHECK(e.ledger().total() == Approx(0.80));
    e.cancel("a", T0 + Millis{300});
    CHECK(e.find("a")->state == State::cancelled);
    CHECK(e.ledger().total() == Approx(0.80));  // billed by the provider all the same
    e.cancel("b", T0 + Millis{400});
    CHECK(e.ledger().total() == Approx(0.80));
}

TEST_CASE("a remix takes its duration and size from the provider's answer, and so does its charge",
          "[engine]") {
    Engine e(settings(), 1);
    JobSpec remix = spec("r");  // 8 s from the defaults: the manifest named a bare video id
    remix.remix_of = "video_source";
    e.add("r", remix, T0);
    auto cs = e.tick(T0);
    REQUIRE(sends(cs, Purpose::create).size() == 1);
    CHECK(sends(cs, Purpose::create)[0].request.url ==
          "http://p.test/v1/videos/video_source/remix");
    CHECK(e.ledger().total() == Approx(0.80));
    JobSpec source_shape = remix;
    source_shape.seconds = 12;
    source_shape.size = {720, 1280};
    e.on_http("r", Purpose::create, json(200, video("video_r", "queued", 0, source_shape, T0)),
              T0 + Millis{200});
    CHECK(e.find("r")->spec.seconds == 12);
    CHECK(e.find("r")->spec.size == Size{720, 1280});
    CHECK(e.ledger().total() == Approx(1.20));
}

TEST_CASE("a lost create answer is reconciled: the listed video is adopted, not resent",
          "[engine]") {
    Engine e(settings(), 1);
    add_and_submit(e, "a");
    HttpResult lost;
    lost.transport = TransportError::after_send;
    lost.transport_message = "Operation timed out";
    e.on_http("a", Purpose::create, lost, T0 + Millis{30000});
    REQUIRE(e.find("a")->state == State::reconciling);
    CHECK(e.ledger().total() == Approx(0.80));  // it may have been billed
    auto cs = e.tick(T0 + Millis{36000});
    REQUIRE(sends(cs, Purpose::list).size() == 1);
    CHECK(sends(cs, Purpose::create).empty());
    nlohmann::json list = {{"object", "list"},
                           {"data", {video("video_9", "in_progress", 10, spec("a"), T0)}},
                           {"has_more", false}};
    e.on_http("a", Purpose::list, json(200, list), T0 + Millis{36100});
    CHECK(e.find("a")->state == State::in_progress);
    CHECK(e.find("a")->video_id == "video_9");
    CHECK(e.find("a")->submit_attempts == 1);
}

TEST_CASE("a create missing from two lists in a row is sent again", "[engine]") {
    Engine e(settings(), 1);
    add_and_submit(e, "a");
    e.on_http("a", Purpose::create, json(502, {{"error", {{"message", "bad gateway"}}}}),
              T0 + Millis{1000});
    REQUIRE(e.find("a")->state == State::reconciling);
    nlohmann::json empty = {
        {"object", "list"}, {"data", nlohmann::json::array()}, {"has_more", false}};
    e.tick(T0 + Millis{7000});
    e.on_http("a", Purpose::list, json(200, empty), T0 + Millis{7100});
    CHECK(e.find("a")->state == State::reconciling);  // one look proves nothing yet
    CHECK(sends(e.tick(T0 + Millis{10000}), Purpose::create).empty());
    auto second = e.tick(T0 + Millis{23000});
    REQUIRE(sends(second, Purpose::list).size() == 1);
    e.on_http("a", Purpose::list, json(200, empty), T0 + Millis{23100});
    auto cs = e.tick(T0 + Millis{23200});
    CHECK(sends(cs, Purpose::create).size() == 1);
    CHECK(e.find("a")->submit_attempts == 2);
}

TEST_CASE("401 pauses the provider: jobs wait, none fail, a good check resumes", "[engine]") {
    Engine e(settings(), 1);
    add_and_submit(e, "a");
    e.add("b", spec("b"), T0);
    auto r =
        json(401, {{"error", {{"code", "invalid_api_key"}, {"message", "Incorrect API key"}}}});
    e.on_http("a", Purpose::create, r, T0 + Millis{100});
    e.tick(T0 + Millis{200});
    CHECK(e.find("a")->state == State::waiting);
    CHECK(e.find("b")->state != State::failed);
    CHECK(e.scheduler().paused("p"));
    CHECK(e.ledger().total() == Approx(0.0));
    auto check = e.tick(T0 + Millis{61000});
    auto checks = sends(check, Purpose::check);
    REQUIRE(checks.size() == 1);
    CHECK(checks[0].request.url == "http://p.test/v1/models");
    e.on_http(checks[0].job, Purpose::check, json(200, {{"data", nlohmann::json::array()}}),
              T0 + Millis{61100});
    CHECK_FALSE(e.scheduler().paused("p"));
    auto resumed = e.tick(T0 + Millis{61200});
    CHECK(sends(resumed, Purpose::create).size() == 2);
}

TEST_CASE("moderation fails the job with the provider's code and words", "[engine]") {
    Engine e(settings(), 1);
    add_and_submit(e, "a");
    auto v = video("video_1", "failed", 0, spec("a"), T0);
    v["error"] = {{"code", "moderation_blocked"}, {"message", "Your request was blocked"}};
    auto cs = e.on_http("a", Purpose::create, json(200, v), T0 + Millis{100});
    auto fails = all<Fail>(cs);
    REQUIRE(fails.size() == 1);
    REQUIRE(fails[0].job.error);
    CHECK(fails[0].job.error->stage == "generate");
    CHECK(fails[0].job.error->code == "moderation_blocked");
    CHECK(fails[0].job.error->message == "Your request was blocked");
}

TEST_CASE("a completed video is downloaded, verified and delivered", "[engine]") {
    Engine e(settings(), 1);
    add_and_submit(e, "a");
    auto s = spec("a");
    s.variants = {"thumbnail"};
    e.on_http("a", Purpose::create, json(200, video("v1", "completed", 100, s, T0)),
              T0 + Millis{100});
    auto dl = all<Download>(e.tick(T0 + Millis{200}));
    REQUIRE(dl.size() == 1);
    CHECK(dl[0].variant == "video");
    CHECK(dl[0].request.url == "http://p.test/v1/videos/v1/content?variant=video");
    HttpResult ok;
    ok.status = 200;
    ok.content_type = "video/mp4";
    e.on_download("a", "video", {ok, 1000}, T0 + Millis{300});
    auto probes = all<Probe>(e.tick(T0 + Millis{300}));
    REQUIRE(probes.size() == 1);
    CHECK(probes[0].expect.size == Size{1280, 720});
    MediaInfo m;
    m.opened = true;
    m.has_video = true;
    m.video_codec = "h264";
    m.width = 1280;
    m.height = 720;
    m.duration = 8.0;
    m.frames = 64;
    m.video_packets = 64;
    m.last_video_pts = 8.0;
    auto cs = e.on_probe("a", m, T0 + Millis{400});
    REQUIRE(all<Deliver>(cs).size() == 1);
    e.on_delivered("a", "a", T0 + Millis{500});
    CHECK(e.find("a")->state == State::delivered);
    CHECK(e.idle());
    // Finished, it leaves memory (all of it is on disk) and is counted.
    e.add("b", spec("b"), T0 + Millis{600});
    e.forget_finished();
    CHECK(e.find("a") == nullptr);
    CHECK(e.find("b") != nullptr);
    CHECK(e.finished().at(State::delivered) == 1);
}

TEST_CASE("a truncated download is fetched again, then fails at verify after the limit",
          "[engine]") {
    Settings st = settings();
    st.verify.max_download_attempts = 2;
    Engine e(st, 1);
    add_and_submit(e, "a");
    e.on_http("a", Purpose::create, json(200, video("v1", "completed", 100, spec("a"), T0)),
              T0 + Millis{100});
    MediaInfo truncated;
    truncated.opened = true;
    truncated.has_video = true;
    truncated.video_codec = "h264";
    truncated.width = 1280;
    truncated.height = 720;
    truncated.duration = 8.0;
    truncated.frames = 64;
    truncated.video_packets = 30;
    truncated.last_video_pts = 3.7;
    HttpResult ok;
    ok.status = 200;
    ok.content_type = "video/mp4";
    TimePoint t = T0 + Millis{200};
    for (int attempt = 1; attempt <= 2; ++attempt) {
        REQUIRE(all<Download>(e.tick(t)).size() == 1);
        e.on_download("a", "video", {ok, 1000}, t);
        REQUIRE(all<Probe>(e.tick(t)).size() == 1);
        auto cs = e.on_probe("a", truncated, t);
        if (attempt == 1) {
            CHECK(e.find("a")->state == State::downloading);
            // Not at once: the next fetch waits out the backoff (minutes of retention left).
            CHECK(all<Download>(e.tick(t + Millis{100})).empty());
            CHECK(e.find("a")->next_action >= t + st.verify.download_backoff * 3 / 4);
            t = e.find("a")->next_action;
        } else {
            auto fails = all<Fail>(cs);
            REQUIRE(fails.size() == 1);
            CHECK(fails[0].job.error->stage == "verify");
            CHECK(fails[0].job.error->code == "truncated");
            // The video is paid for: the error names it so that `retry` fetches it again.
            CHECK(fails[0].job.error->video_id == "v1");
        }
    }
}

TEST_CASE("a create that would cross usd_total waits and says why", "[engine]") {
    Settings st = settings();
    st.budget.usd_total = 1.0;  // one 8 s job at $0.10/s fits, two do not
    Engine e(st, 1);
    e.add("a", spec("a"), T0);
    e.add("b", spec("b"), T0);
    auto cs = e.tick(T0);
    CHECK(sends(cs, Purpose::create).size() == 1);
    CHECK(e.find("b")->state == State::waiting);
    CHECK(e.find("b")->why.rfind("budget", 0) == 0);
    CHECK(e.only_budget_held() == false);  // "a" is in flight
}

TEST_CASE("max_in_flight holds submits until a job leaves flight", "[engine]") {
    Engine e(settings(60, 1), 1);
    e.add("a", spec("a"), T0);
    e.add("b", spec("b"), T0);
    CHECK(sends(e.tick(T0), Purpose::create).size() == 1);
    CHECK(e.find("b")->why.find("max_in_flight") != std::string::npos);
    auto v = video("v1", "failed", 0, spec("a"), T0);
    e.on_http("a", Purpose::create, json(200, v), T0 + Millis{100});
    CHECK(sends(e.tick(T0 + Millis{100}), Purpose::create).size() == 1);
}

TEST_CASE("higher priority submits first, then arrival order", "[engine]") {
    Engine e(settings(60, 1), 1);
    e.add("first", spec("first", 0), T0);
    e.add("urgent", spec("urgent", 5), T0);
    auto cs = sends(e.tick(T0), Purpose::create);
    REQUIRE(cs.size() == 1);
    CHECK(cs[0].job == "urgent");
}

TEST_CASE("a restart while the create was on the wire reconciles instead of resending",
          "[engine]") {
    Engine before(settings(), 1);
    auto cs = add_and_submit(before, "a");
    Job recorded = all<Persist>(cs).back().job;
    REQUIRE(recorded.state == State::submitting);
    Engine after(settings(), 2);
    auto restored =
        after.restore({recorded}, before.ledger().entries(), nullptr, {}, T0 + Millis{5000});
    CHECK(after.find("a")->state == State::reconciling);
    auto next = after.tick(T0 + Millis{5000});
    CHECK(sends(next, Purpose::create).empty());
    CHECK(sends(next, Purpose::list).size() == 1);
    CHECK(after.ledger().total() == Approx(0.80));
}

TEST_CASE("a job that renders past job_timeout fails at generate", "[engine]") {
    Settings st = settings();
    st.polling.job_timeout = Millis{60000};
    Engine e(st, 1);
    add_and_submit(e, "a");
    e.on_http("a", Purpose::create, json(200, video("v1", "in_progress", 5, spec("a"), T0)),
              T0 + Millis{100});
    auto cs = e.tick(T0 + Millis{60001});
    auto fails = all<Fail>(cs);
    REQUIRE(fails.size() == 1);
    CHECK(fails[0].job.error->code == "timeout");
}

TEST_CASE("an unknown status word is treated as running", "[engine]") {
    Engine e(settings(), 1);
    add_and_submit(e, "a");
    auto cs = e.on_http("a", Purpose::create, json(200, video("v1", "dreaming", 0, spec("a"), T0)),
                        T0 + Millis{100});
    CHECK(e.find("a")->state == State::in_progress);
    bool warned = false;
    for (const auto& l : all<Log>(cs))
        warned |= l.text.find("dreaming") != std::string::npos;
    CHECK(warned);
}

TEST_CASE("polls land near the predicted completion", "[scheduler]") {
    PollSettings s;  // 2 s .. 30 s
    // Nothing known yet: start at min_interval and double.
    CHECK(next_poll(s, T0, T0, 0, 0, 0, std::nullopt) == T0 + Millis{2000});
    CHECK(next_poll(s, T0, T0, 0, 0, 2, std::nullopt) == T0 + Millis{8000});
    // 90% after 90 s from 0%: 10 s left.
    CHECK(next_poll(s, T0 + Millis{90000}, T0, 0, 90, 5, std::nullopt) == T0 + Millis{100000});
    // 10% after 20 s: 180 s left, capped at max_interval.
    CHECK(next_poll(s, T0 + Millis{20000}, T0, 0, 10, 3, std::nullopt) == T0 + Millis{50000});
    // 99%: as soon as min_interval allows.
    CHECK(next_poll(s, T0 + Millis{99000}, T0, 0, 99, 6, std::nullopt) == T0 + Millis{101000});
    // The provider's poll-after hint is a floor.
    CHECK(next_poll(s, T0, T0, 0, 0, 0, Millis{7000}) == T0 + Millis{7000});
}

// A render whose progress grows linearly over `render`, first seen at `first_seen` with the
// progress of that moment, polled by next_poll until it completes: the polls and the lag.
std::pair<int, Millis> poll_render(Millis render, Millis first_seen) {
    PollSettings s;  // 2 s .. 30 s
    auto progress_at = [&](Millis t) {
        return int(std::min<int64_t>(100, 100 * t.count() / render.count()));
    };
    TimePoint seen = T0 + first_seen;
    int first = progress_at(first_seen);
    TimePoint now = seen;
    int polls = 0;
    while (true) {
        now = next_poll(s, now, seen, first, progress_at(now - T0), polls, std::nullopt);
        ++polls;
        if (now - T0 >= render) return {polls, now - T0 - render};
        REQUIRE(polls < 100);
    }
}

TEST_CASE("a 3-minute render is polled at most 6 times and looked at within 2 s of its end",
          "[scheduler]") {
    for (Millis first_seen : {Millis{100}, Millis{2000}, Millis{5000}}) {
        auto [polls, lag] = poll_render(Millis{180000}, first_seen);
        INFO("first seen at " << first_seen.count() << " ms: " << polls << " polls, lag "
                              << lag.count() << " ms");
        CHECK(polls <= 6);
        CHECK(lag <= Millis{2000});
    }
    // Longer renders gain the most: a 20-minute one is not polled every 30 s (40 times).
    CHECK(poll_render(Millis{1200000}, Millis{100}).first <= 10);
}

TEST_CASE("no minute holds more creates than submits_per_minute", "[scheduler]") {
    std::map<std::string, ProviderSettings> providers{{"p", settings(12).providers["p"]}};
    Scheduler s;
    s.configure(providers);
    std::vector<TimePoint> sent;
    for (TimePoint t = T0; t < T0 + Millis{5 * 60000}; t += Millis{250}) {
        if (s.can_submit("p", t).slot) {
            s.on_submit("p", 0, t);
            sent.push_back(t);
        }
    }
    REQUIRE(sent.size() >= 12 * 4);
    for (size_t i = 0; i + 12 < sent.size(); ++i)
        CHECK(sent[i + 12] - sent[i] >= Millis{60000});
}

TEST_CASE("backoff doubles up to its cap and jitter only shortens it", "[scheduler]") {
    CHECK(backoff(0, 0) == Millis{500});
    CHECK(backoff(3, 0) == Millis{4000});
    CHECK(backoff(10, 0) == Millis{8000});
    CHECK(backoff(10, 0.999) >= Millis{6000});
    CHECK(backoff(10, 0.999) < Millis{8000});
}

TEST_CASE("the ledger refuses a create that would cross usd_per_day, and a new day resets it",
          "[budget]") {
    Ledger l;
    BudgetSettings b;
    b.usd_per_day = 1.0;
    l.add({T0, "a", 0.80});
    CHECK(l.refuse(0.40, T0, b).has_value());
    CHECK_FALSE(l.refuse(0.20, T0, b).has_value());
    CHECK_FALSE(l.refuse(0.40, T0 + Millis{24LL * 3600 * 1000}, b).has_value());
}

TEST_CASE("a job record survives a JSON round trip", "[engine]") {
    Job j;
    j.id = "7-cat";
    j.spec = spec("cat");
    j.spec.meta = {{"k", {1, 2}}};
    j.video_id = "video_:/+=";
    j.expires = T0;
    j.state = State::waiting;
    j.wait = Wait::budget("$0.40 would cross usd_total $1.00 (spent $0.80)");
    JobError e = JobError::generate("x", "y", "h");
    e.http_status = 500;
    e.provider_error = {{"a", 1}};
    e.request_id = "req";
    e.retryable = true;
    e.video_id = "video_9";
    e.key_slot = 2;
    j.error = e;
    nlohmann::json js = j;
    Job back = js.get<Job>();
    CHECK(back.id == j.id);
    CHECK(back.spec.size == j.spec.size);
    CHECK(back.spec.meta == j.spec.meta);
    CHECK(back.state == State::waiting);
    CHECK(back.wait == j.wait);
    CHECK(describe(back.wait) == "budget: $0.40 would cross usd_total $1.00 (spent $0.80)");
    CHECK(back.video_id == j.video_id);
    CHECK(back.expires == j.expires);
    CHECK(back.error->provider_error == j.error->provider_error);
    CHECK(back.error->video_id == "video_9");
    CHECK(back.error->key_slot == 2);
}

}  // namespace vd
