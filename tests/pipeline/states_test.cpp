// The one way into a state: each state's on-enter work, done again after a restart where the
// shell's side is idempotent; waiting reasons as data; rejections through the same path; and a
// provider reached only through its protocol.
#include <catch2/catch.hpp>

#include "pipeline/engine.hpp"
#include "pipeline/protocol.hpp"
#include "tests/pipeline/engine_fixtures.hpp"

namespace vd {

namespace {
Job recorded(const std::string& id, State state) {
    Job j;
    j.id = id;
    j.spec = spec(id);
    j.seq = 1;
    j.state = state;
    j.video_id = "video_1";
    j.first_submit = j.submit_sent = T0;
    if (state == State::failed || state == State::cancelled)
        j.error = JobError::generate("x", "the provider said no");
    return j;
}
}  // namespace

TEST_CASE("restore does the on-enter work of the state a crash left a job in", "[engine][states]") {
    struct Case {
        State recorded_as;
        State resumed_as;
        bool persist, deliver, fail;
    };
    for (const Case& c : {
             Case{State::submitting, State::reconciling, true, false, false},
             Case{State::verifying, State::downloading, true, false, false},
             Case{State::downloading, State::downloading, false, false, false},
             Case{State::delivering, State::delivering, false, true, false},
             Case{State::failed, State::failed, false, false, true},
             Case{State::cancelled, State::cancelled, false, false, true},
             Case{State::in_progress, State::in_progress, false, false, false},
         }) {
        INFO("recorded as " << to_string(c.recorded_as));
        Engine e(settings(), 1);
        auto cs = e.restore({recorded("a", c.recorded_as)}, {}, nullptr, {}, T0 + Millis{1000});
        CHECK(e.find("a")->state == c.resumed_as);
        CHECK(all<Persist>(cs).empty() == !c.persist);
        CHECK(all<Deliver>(cs).size() == (c.deliver ? 1u : 0u));
        CHECK(all<Fail>(cs).size() == (c.fail ? 1u : 0u));
        CHECK(all<Probe>(cs).empty());  // a restart fetches again before it probes
        if (c.persist) CHECK(all<Persist>(cs).back().job.state == c.resumed_as);
    }
}

namespace {
MediaInfo playable() {
    MediaInfo ok;
    ok.opened = true;
    ok.container = "mp4";
    ok.has_video = true;
    ok.video_codec = "h264";
    ok.width = 1280;
    ok.height = 720;
    ok.duration = 8;
    ok.frames = 240;
    ok.video_packets = 240;
    ok.last_video_pts = 8;
    ok.decoded = true;
    ok.decoded_frames = 240;
    return ok;
}

// A recorded job fetched and verified: what on_probe() answers.
Commands verified(Engine& e) {
    auto started = e.tick(T0);
    REQUIRE(all<Download>(started).size() == 1);
    HttpResult mp4;
    mp4.status = 200;
    mp4.content_type = "video/mp4";
    CHECK(e.on_download("a", "video", {mp4, 1000}, T0 + Millis{10}).empty());
    auto fetched = e.tick(T0 + Millis{10});
    REQUIRE(e.find("a")->state == State::verifying);
    REQUIRE(all<Probe>(fetched).size() == 1);
    CHECK(e.find("a")->awaiting);
    return e.on_probe("a", playable(), T0 + Millis{20});
}
}  // namespace

TEST_CASE("entering verifying probes; entering delivering publishes, the shell recording it first",
          "[engine][states]") {
    Engine e(settings(), 1);
    e.restore({recorded("a", State::downloading)}, {}, nullptr, {}, T0);
    auto probed = verified(e);
    // The shell writes the record with the name it publishes under before publishing, so a
    // record written here would be written again at once.
    CHECK(all<Persist>(probed).empty());
    REQUIRE(all<Deliver>(probed).size() == 1);
    CHECK(all<Deliver>(probed)[0].job.state == State::delivering);
    CHECK(all<Deliver>(probed)[0].job.media.width == 1280);
}

TEST_CASE("a storyboard's shot entering delivering is recorded before it is kept",
          "[engine][states]") {
    Engine e(settings(), 1);
    Job shot = recorded("a", State::downloading);
    shot.parent = "board";  // the parent is gone: the shot still finishes on its own
    e.restore({shot}, {}, nullptr, {}, T0);
    auto probed = verified(e);
    int persist = index_of<Persist>(probed);
    int deliver = index_of<Deliver>(probed);
    REQUIRE(persist >= 0);
    REQUIRE(deliver > persist);
    CHECK(std::get<Persist>(probed[persist]).job.state == State::delivering);
}

TEST_CASE("a poll's completed is written by the download's start; a streamed one at once",
          "[engine][states]") {
    Engine e(settings(), 1);
    add_and_submit(e, "a");
    e.on_http("a", Purpose::create, json(200, video("v1", "in_progress", 50, spec("a"), T0)),
              T0 + Millis{5});
    REQUIRE(e.find("a")->state == State::in_progress);
    auto answer =
        e.on_http("a", Purpose::poll, json(200, video("v1", "completed", 100, spec("a"), T0)),
                  T0 + Millis{9});
    REQUIRE(e.find("a")->state == State::downloading);
    CHECK(all<Persist>(answer).empty());  // a restart polls again and hears "completed" again
    auto started = e.tick(T0 + Millis{9});
    REQUIRE(all<Download>(started).size() == 1);
    REQUIRE(all<Persist>(started).size() == 1);
    CHECK(all<Persist>(started)[0].job.state == State::downloading);
    CHECK(all<Persist>(started)[0].job.download_attempts == 1);
    CHECK(index_of<Persist>(started) < index_of<Download>(started));

    // Completed in the create's own answer: nothing to poll again, so written on entering.
    Engine f(settings(), 1);
    add_and_submit(f, "b");
    auto created =
        f.on_http("b", Purpose::create, json(200, video("v2", "completed", 100, spec("b"), T0)),
                  T0 + Millis{5});
    REQUIRE(f.find("b")->state == State::downloading);
    REQUIRE_FALSE(all<Persist>(created).empty());
    CHECK(all<Persist>(created).back().job.video_id == "v2");
}

TEST_CASE("a rejected manifest fails through the engine: recorded, then moved",
          "[engine][states]") {
    Engine e(settings(), 1);
    JobSpec s;
    s.name = "bad";
    s.manifest_file = "bad.json";
    s.manifest = nullptr;
    auto cs = e.reject("1-bad~00", s,
                       JobError::validate("bad_json", "bad.json: line 1: syntax error",
                                          "fix the manifest and drop it again"),
                       T0);
    int persist = index_of<Persist>(cs);
    int fail = index_of<Fail>(cs);
    REQUIRE(persist >= 0);
    REQUIRE(fail > persist);
    const Job& j = std::get<Fail>(cs[fail]).job;
    CHECK(j.state == State::failed);
    CHECK(j.error->stage == "validate");
    CHECK(j.error->code == "bad_json");
    CHECK(j.spec.manifest_file == "bad.json");
    CHECK(e.idle());
    // And after a crash before the move, the move is done again.
    auto again =
        Engine(settings(), 1)
            .restore({std::get<Persist>(cs[persist]).job}, {}, nullptr, {}, T0 + Millis{5});
    CHECK(all<Fail>(again).size() == 1);
}

TEST_CASE("waiting reasons are data; the words come from describe()", "[engine][states]") {
    Settings st = settings();
    st.budget.usd_total = 1.00;
    Engine e(st, 1);
    e.add("a", spec("a"), T0);  // $0.80
    e.add("b", spec("b"), T0);  // $0.80: would cross usd_total
    e.tick(T0);
    const Job* b = e.find("b");
    REQUIRE(b->state == State::waiting);
    CHECK(b->wait.kind == Wait::Kind::budget);
    CHECK(b->why == describe(b->wait));
    CHECK(b->why.rfind("budget: $0.80 would cross usd_total $1.00", 0) == 0);
    CHECK_FALSE(e.only_budget_held());  // a is still in flight

    Engine r(settings(1), 1);  // one create a minute
    r.add("a", spec("a"), T0);
    r.add("b", spec("b"), T0);
    auto cs = r.tick(T0);
    CHECK(r.find("b")->wait.kind == Wait::Kind::rate);
    CHECK(r.find("b")->wait.number == 1);
    // Creates are spaced, so the words say so rather than "reached" after a single create.
    CHECK(r.find("b")->why ==
          "submits_per_minute (1): creates leave one every 60.0s, this one in turn");
    // A claimed job that only queues behind a limit is not written again.
    for (const auto& p : all<Persist>(cs))
        CHECK(p.job.id != "b");
}

TEST_CASE("the engine reaches a provider only through a registered protocol",
          "[engine][protocol]") {
    REQUIRE(protocol::find("openai-videos"));
    CHECK(protocol::find("openai-videos")->name() == "openai-videos");
    REQUIRE(protocol::find("chat-sse"));
    CHECK(protocol::find("chat-sse")->name() == "chat-sse");
    CHECK(protocol::find("veo-predict") == nullptr);
    CHECK(protocol::find("") == nullptr);
    CHECK(protocol::self_served("mock"));
    CHECK_FALSE(protocol::self_served("openai-videos"));

    Settings st = settings();
    st.providers["p"].protocol = "carrier-pigeon";
    Engine e(st, 1);
    auto cs = e.add("a", spec("a"), T0);
    REQUIRE(e.find("a")->state == State::failed);
    CHECK(e.find("a")->error->code == "unsupported_protocol");
    CHECK(e.find("a")->error->message.find("carrier-pigeon") != std::string::npos);
    CHECK(all<Fail>(cs).size() == 1);
    CHECK(sends(e.tick(T0), Purpose::create).empty());
}

}  // namespace vd
