// Storyboards at a provider that makes one shot a generation: the whole cost reserved before
// the first create, the shots through the normal limits, kept, joined and verified; a failed
// shot fails the storyboard; continuity serialises the shots; a restart re-creates nothing.
#include <catch2/catch.hpp>

#include <set>

#include "engine_fixtures.hpp"

using namespace vd;

namespace {

JobSpec storyboard(const std::string& name, bool continuity = false) {
    JobSpec s = spec(name);
    s.shots = {{4, "a door opens"}, {8, "a dog runs in"}, {4, "the door closes"}};
    s.seconds = 16;
    s.continuity = continuity;
    s.manifest_file = name + ".json";
    return s;
}

MediaInfo media(double seconds) {
    MediaInfo m;
    m.opened = true;
    m.container = "mp4";
    m.has_video = true;
    m.video_codec = "h264";
    m.width = 1280;
    m.height = 720;
    m.duration = seconds;
    m.frames = static_cast<int64_t>(seconds * 30);
    m.video_packets = m.frames;
    m.last_video_pts = seconds;
    m.decoded = true;
    m.decoded_frames = m.frames;
    m.sha256 = "sha-" + std::to_string(seconds);
    return m;
}

std::vector<std::string> created(const Commands& cs) {
    std::vector<std::string> ids;
    for (const auto& s : sends(cs, Purpose::create))
        ids.push_back(s.job);
    return ids;
}

// Ticks a second at a time until `want` creates went out (or 60 ticks); returns their jobs.
std::vector<std::string> creates_until(Engine& e, size_t want, TimePoint& t) {
    std::vector<std::string> ids;
    for (int i = 0; i < 60 && ids.size() < want; ++i, t += Millis{1000})
        for (auto& id : created(e.tick(t)))
            ids.push_back(id);
    return ids;
}

// The provider made the shot at once; it is fetched, verified and kept.
void make_shot(Engine& e, const std::string& id, const std::string& video_id, TimePoint& t) {
    const Job& shot = *e.find(id);
    e.on_http(id, Purpose::create, json(200, video(video_id, "completed", 100, shot.spec, t)), t);
    REQUIRE(all<Download>(e.tick(t)).size() == 1);
    HttpResult ok;
    ok.status = 200;
    ok.content_type = "video/mp4";
    e.on_download(id, "video", {ok, 1000}, t);
    REQUIRE(all<Probe>(e.tick(t)).size() == 1);
    auto kept = all<Deliver>(e.on_probe(id, media(e.find(id)->spec.seconds), t));
    REQUIRE(kept.size() == 1);
    CHECK(kept[0].job.parent != "");
    e.on_delivered(id, "", t);
    t += Millis{100};
}

}  // namespace

TEST_CASE("a storyboard reserves its whole cost, makes each shot once and joins them",
          "[engine][storyboard]") {
    Settings st = settings();
    st.budget.usd_total = 2.00;  // the storyboard costs 16 s x $0.10
    Engine e(st, 1);
    TimePoint t = T0;
    e.add("sb", storyboard("sb"), t);
    auto first = e.tick(t);
    // Every shot is reserved before the first create goes out.
    auto spends = all<RecordSpend>(first);
    REQUIRE(spends.size() == 3);
    CHECK(spends[0].entry.usd + spends[1].entry.usd + spends[2].entry.usd == Approx(1.60));
    int first_create = index_of<SendHttp>(first);
    int last_spend = -1;
    for (int i = 0; i < static_cast<int>(first.size()); ++i)
        if (std::holds_alternative<RecordSpend>(first[i])) last_spend = i;
    CHECK((first_create < 0 || last_spend < first_create));
    CHECK(e.find("sb")->state == State::waiting);
    CHECK(e.find("sb")->wait.kind == Wait::Kind::shots);

    std::vector<std::string> ids = created(first);
    t += Millis{1000};
    for (auto& id : creates_until(e, 3 - ids.size(), t))
        ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    REQUIRE(ids == std::vector<std::string>{"sb-shot1", "sb-shot2", "sb-shot3"});
    CHECK(e.find("sb-shot2")->spec.seconds == 8);
    CHECK(e.find("sb-shot2")->spec.prompt == "a dog runs in");

    make_shot(e, "sb-shot2", "v2", t);
    make_shot(e, "sb-shot1", "v1", t);
    e.forget_finished();  // made shots are kept while their storyboard is at work
    REQUIRE(e.find("sb-shot2"));
    CHECK(e.find("sb-shot2")->state == State::delivered);
    CHECK(all<Join>(e.tick(t)).empty());
    CHECK(e.find("sb")->why == "its shots: 2 of 3 made");
    make_shot(e, "sb-shot3", "v3", t);
    auto joined = all<Join>(e.tick(t));
    REQUIRE(joined.size() == 1);
    CHECK(joined[0].shots == std::vector<std::string>{"sb-shot1", "sb-shot2", "sb-shot3"});
    CHECK(e.find("sb")->state == State::joining);
    CHECK(created(e.tick(t)).empty());

    auto probes = all<Probe>(e.on_joined("sb", "", t));
    REQUIRE(probes.size() == 1);
    CHECK(probes[0].expect.seconds == 16);
    auto delivered = all<Deliver>(e.on_probe("sb", media(16.02), t));
    REQUIRE(delivered.size() == 1);
    REQUIRE(delivered[0].shots.size() == 3);
    CHECK(delivered[0].shots[1].video_id == "v2");
    CHECK(delivered[0].shots[1].media.sha256 == "sha-8.000000");
    e.on_delivered("sb", "sb", t);
    CHECK(e.find("sb")->state == State::delivered);
    CHECK(e.ledger().total() == Approx(1.60));
    e.forget_finished();  // then they leave with it
    CHECK(e.jobs().empty());
    CHECK(e.finished().at(State::delivered) == 4);
}

TEST_CASE("a storyboard that does not fit the budget whole creates no shot",
          "[engine][storyboard]") {
    Settings st = settings();
    st.budget.usd_per_day = 2.00;
    Engine e(st, 1);
    e.add("before", spec("before"), T0);  // $0.80 of the day's $2.00
    REQUIRE(created(e.tick(T0)).size() == 1);
    e.add("sb", storyboard("sb"), T0);  // $1.60 more would cross it
    TimePoint t = T0 + Millis{1000};
    CHECK(creates_until(e, 1, t).empty());
    CHECK(e.find("sb")->state == State::waiting);
    CHECK(e.find("sb")->wait.kind == Wait::Kind::budget);
    CHECK(e.find("sb-shot1") == nullptr);
    CHECK(e.ledger().total() == Approx(0.80));
}

TEST_CASE("a failed shot fails the storyboard; unsent shots get their reservation back",
          "[engine][storyboard]") {
    Settings st = settings(1);  // one create a minute: shot 1 goes, the others wait
    Engine e(st, 1);
    TimePoint t = T0;
    e.add("sb", storyboard("sb"), t);
    REQUIRE(created(e.tick(t)) == std::vector<std::string>{"sb-shot1"});
    auto v = video("v1", "failed", 0, e.find("sb-shot1")->spec, t);
    v["error"] = {{"code", "moderation_blocked"}, {"message", "blocked"}};
    e.on_http("sb-shot1", Purpose::create, json(200, v), t);
    auto cs = e.tick(t + Millis{100});
    auto fails = all<Fail>(cs);
    REQUIRE(fails.size() == 1);  // the storyboard's; a shot has no inputs to move
    CHECK(fails[0].job.id == "sb");
    const JobError& err = *fails[0].job.error;
    CHECK(err.code == "moderation_blocked");
    CHECK(err.message == "shot 1 of 3 (sb-shot1): blocked");
    CHECK_THAT(err.hint, Catch::Contains("moderation") &&
                             Catch::Contains("the shots listed as paid were billed"));
    REQUIRE(err.shots.size() == 3);
    CHECK(err.shots[0]["paid"] == true);
    CHECK(err.shots[1]["paid"] == false);
    CHECK(e.find("sb-shot2")->state == State::cancelled);
    // Shot 1 reached the provider and stays spent; shots 2 and 3 are given back.
    CHECK(e.ledger().total() == Approx(0.40));
    CHECK(created(e.tick(t + Millis{120'000})).empty());
}

TEST_CASE("with continuity each shot waits for the last frame of the one before",
          "[engine][storyboard]") {
    Engine e(settings(), 1);
    TimePoint t = T0;
    e.add("sb", storyboard("sb", true), t);
    REQUIRE(created(e.tick(t)) == std::vector<std::string>{"sb-shot1"});
    t += Millis{5000};
    CHECK(created(e.tick(t)).empty());  // shot 2 has no reference yet
    CHECK(e.find("sb-shot2")->why == "the last frame of shot 1");
    make_shot(e, "sb-shot1", "v1", t);
    auto frames = all<ExtractFrame>(e.tick(t));
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].job == "sb-shot2");
    CHECK(frames[0].from == "sb-shot1");
    CHECK(frames[0].size == Size{1280, 720});
    CHECK(all<ExtractFrame>(e.tick(t)).empty());  // asked once
    e.on_frame("sb-shot2", "tmp/sb.shot2.png", "", t);
    auto sent = sends(e.tick(t), Purpose::create);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].job == "sb-shot2");
    CHECK(e.find("sb-shot2")->spec.image == "tmp/sb.shot2.png");
    CHECK(e.find("sb-shot3")->needs_frame);
}

TEST_CASE("a restart resumes a storyboard from its records without re-creating a shot",
          "[engine][storyboard]") {
    Engine before(settings(), 1);
    TimePoint t = T0;
    before.add("sb", storyboard("sb"), t);
    std::vector<std::string> ids = created(before.tick(t));
    t += Millis{1000};
    for (auto& id : creates_until(before, 3 - ids.size(), t))
        ids.push_back(id);
    REQUIRE(ids.size() == 3);
    make_shot(before, "sb-shot1", "v1", t);
    before.on_http("sb-shot2", Purpose::create,
                   json(200, video("v2", "in_progress", 10, before.find("sb-shot2")->spec, t)), t);
    // Shot 3's create is on the wire when the process dies.
    std::vector<Job> records;
    for (const auto& [id, job] : before.jobs())  // read back as the store writes them
        records.push_back(nlohmann::json(job).get<Job>());
    std::vector<LedgerEntry> ledger;
    for (const auto& entry : before.ledger().entries())
        ledger.push_back(entry);

    Engine after(settings(), 2);
    auto resumed = after.restore(records, ledger, nullptr, {}, t);
    auto cs = after.tick(t);
    CHECK(created(resumed).empty());
    CHECK(created(cs).empty());
    CHECK(after.find("sb-shot1")->state == State::delivered);
    CHECK(after.find("sb-shot3")->state == State::reconciling);
    CHECK(sends(cs, Purpose::poll).size() == 1);  // shot 2 goes on being polled
    CHECK(sends(cs, Purpose::list).size() == 1);  // shot 3 is looked for, not sent again
    CHECK(all<RecordSpend>(cs).empty());
    CHECK(after.ledger().total() == Approx(1.60));
}

TEST_CASE(
    "shots written just before a crash cut the storyboard's record are taken up, not "
    "reserved again",
    "[engine][storyboard]") {
    Engine before(settings(), 1);
    before.add("sb", storyboard("sb"), T0);
    auto started = before.tick(T0);
    // The process dies after the shots' records and spend, before the storyboard's own record.
    std::vector<Job> records;
    Job parent = nlohmann::json(*before.find("sb")).get<Job>();
    parent.state = State::claimed;
    parent.children.clear();
    parent.wait = {};
    records.push_back(parent);
    std::set<std::string> written;
    for (const auto& p : all<Persist>(started))  // each shot's first record: claimed, reserved
        if (!p.job.parent.empty() && written.insert(p.job.id).second)
            records.push_back(nlohmann::json(p.job).get<Job>());
    REQUIRE(records.size() == 4);
    std::vector<LedgerEntry> ledger;
    for (const auto& r : all<RecordSpend>(started))
        ledger.push_back(r.entry);
    REQUIRE(ledger.size() == 3);

    Settings st = settings(600);  // creates may leave back to back
    st.budget.usd_total = 2.00;   // $1.60 reserved already: reserving it again would not fit
    Engine after(st, 2);
    after.restore(records, ledger, nullptr, {}, T0 + Millis{1000});
    TimePoint t = T0 + Millis{1000};
    auto first = after.tick(t);
    CHECK(all<RecordSpend>(first).empty());
    std::vector<std::string> ids = created(first);
    t += Millis{1000};
    for (auto& id : creates_until(after, 3 - ids.size(), t))
        ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    CHECK(ids == std::vector<std::string>{"sb-shot1", "sb-shot2", "sb-shot3"});
    CHECK(after.ledger().total() == Approx(1.60));
    CHECK(after.find("sb")->children.size() == 3);
    CHECK(after.find("sb")->wait.kind == Wait::Kind::shots);
}
