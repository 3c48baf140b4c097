// submit, status, retry, cancel and check, run as the real binary against a temp config (and an
// in-process mock provider for check), plus the pure parts called directly.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/daemon/child.hpp"

#include "config/manifest.hpp"
#include "daemon/job_store.hpp"
#include "daemon/manage.hpp"
#include "mock/http_lib.hpp"
#include "mock/mock.hpp"
#include "tests/config/temp_dir.hpp"

namespace {

namespace sfs = std::filesystem;
using nlohmann::json;
using vd::test::TempDir;

struct Run {
    int code = -1;
    std::string output;  // stdout and stderr
};

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// A scratch installation: inbox, outbox, failed, state and a config naming them.
struct Setup {
    TempDir dir;
    std::string inbox, failed, state, config;

    explicit Setup(const std::string& providers = "") {
        inbox = dir.str() + "/inbox";
        failed = dir.str() + "/failed";
        state = dir.str() + "/state";
        sfs::create_directories(inbox);
        sfs::create_directories(failed);
        sfs::create_directories(state + "/jobs");
        config = dir.write("videodrop.toml", R"([paths]
inbox = ")" + inbox + R"("
outbox = ")" + dir.str() + R"(/outbox"
failed = ")" + failed + R"("
state = ")" + state + R"("

[defaults]
provider = "openai"
model = "sora-2"
seconds = 4
size = "1280x720"

[providers.openai]
base_url = "https://api.openai.com/v1"
api_key_env = "VD_MANAGE_TEST_OPENAI_KEY"

[providers.openai.models.sora-2]
seconds = [4, 8, 12]
sizes = ["720x1280", "1280x720"]
usd_per_second = 0.10

[budget]
usd_per_day = 10
)" + providers);
    }

    Run run(const std::string& args) const {
        Run r;
        auto run = vd::test::run_shell(quote(VD_BINARY) + " --config " + quote(config) + " " +
                                       args + " 2>&1");
        r.code = run.code;
        r.output = std::move(run.output);
        return r;
    }

    vd::Config cfg() const {
        auto c = vd::load_config(config);
        REQUIRE(c);
        return *c;
    }
};

std::vector<std::string> list(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : sfs::directory_iterator(dir))
        out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

vd::TimePoint now() {
    return std::chrono::time_point_cast<vd::Millis>(std::chrono::system_clock::now());
}

vd::Job make_job(const std::string& name, uint64_t seq, vd::State state) {
    vd::Job j;
    j.id = std::to_string(seq) + "-" + name;
    j.seq = seq;
    j.state = state;
    j.spec.name = name;
    j.spec.provider = "openai";
    j.spec.model = "sora-2";
    j.spec.seconds = 8;
    j.spec.size = {1280, 720};
    j.spec.prompt = "prompt of " + name;
    j.discovered = now() - std::chrono::seconds(192);
    j.cost_usd = 0.80;
    return j;
}

void save(const Setup& s, const vd::Job& j) {
    std::ofstream(s.state + "/jobs/" + j.id + ".json") << json(j).dump();
}

}  // namespace

// ---- submit ----

TEST_CASE("submit writes a valid manifest into the inbox and prints its path", "[manage][submit]") {
    Setup s;
    Run r = s.run("submit 'A cat plays the piano in a smoky bar' --seconds 8 --size 720x1280");
    INFO(r.output);
    REQUIRE(r.code == 0);
    std::string path = trimmed(r.output);
    CHECK(sfs::path(path).parent_path() == sfs::path(s.inbox));
    CHECK(path == s.inbox + "/a-cat-plays-the-piano-in-a-smoky-bar.json");
    // Nothing else: no temporary file or staging folder is left behind.
    CHECK(list(s.inbox) == std::vector<std::string>{sfs::path(path).filename().string()});

    auto spec = vd::read_manifest(path, s.inbox, s.cfg());
    REQUIRE(spec);
    CHECK(spec->prompt == "A cat plays the piano in a smoky bar");
    CHECK(spec->seconds == 8);
    CHECK(spec->size == vd::Size{720, 1280});
    CHECK(spec->model == "sora-2");
}

TEST_CASE("submit never overwrites: the same name again becomes NAME-2", "[manage][submit]") {
    Setup s;
    REQUIRE(s.run("submit 'first' --name cat").code == 0);
    Run r = s.run("submit 'second' --name cat");
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(trimmed(r.output) == s.inbox + "/cat-2.json");
    CHECK(json::parse(slurp(s.inbox + "/cat.json"))["prompt"] == "first");
    CHECK(json::parse(slurp(s.inbox + "/cat-2.json"))["prompt"] == "second");
    // Any file that would pair with the name counts: a cat-3.txt makes the next one cat-4.
    std::ofstream(s.inbox + "/cat-3.txt") << "a prompt";
    CHECK(trimmed(s.run("submit third --name cat").output) == s.inbox + "/cat-4.json");
}

TEST_CASE("submit of an invalid manifest says why now and leaves nothing in the inbox",
          "[manage][submit]") {
    Setup s;
    Run r = s.run("submit 'a dog' --seconds 5");
    INFO(r.output);
    CHECK(r.code == 2);  // a usage mistake, not a fatal error
    CHECK_THAT(r.output, Catch::Contains("seconds: 5 is not allowed"));
    CHECK(list(s.inbox).empty());

    Run bad_name = s.run("submit 'a dog' --name 'no spaces'");
    CHECK(bad_name.code == 2);
    CHECK_THAT(bad_name.output, Catch::Contains("not a valid job name"));
    CHECK(list(s.inbox).empty());
}

TEST_CASE("submit --image copies the image in beside the manifest and names it",
          "[manage][submit]") {
    Setup s;
    const std::string png = std::string(VD_SOURCE_DIR) + "/tests/manifests/good/cat-piano.png";
    Run r = s.run("submit 'a cat' --name kitty --image " + quote(png));
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(list(s.inbox) == std::vector<std::string>{"kitty.json", "kitty.png"});
    CHECK(json::parse(slurp(s.inbox + "/kitty.json"))["image"] == "kitty.png");
    CHECK(slurp(s.inbox + "/kitty.png") == slurp(png));

    // Not an image: refused, and neither the copy nor the manifest stays.
    std::string text = s.dir.write("notes.png", "just text");
    Run bad = s.run("submit 'a cat' --name other --image " + quote(text));
    CHECK(bad.code == 2);
    CHECK_THAT(bad.output, Catch::Contains("not a PNG, JPEG or WebP"));
    CHECK(list(s.inbox) == std::vector<std::string>{"kitty.json", "kitty.png"});
}

TEST_CASE("default name is a slug of the prompt's first words, without a suffix",
          "[manage][submit]") {
    std::string name = vd::manage::default_name(
        "A Cat plays the PIANO!! In a smoky jazz bar at midnight, lit by candles");
    CHECK(name == "a-cat-plays-the-piano-in-a-smoky-jazz");
    CHECK(vd::is_valid_name(name));
    CHECK(vd::manage::default_name("日本語だけ") == "video");
    CHECK(vd::manage::default_name(std::string(100, 'x')) == std::string(40, 'x'));
}

TEST_CASE("submit names a job by its prompt and adds -2 only when the name is taken",
          "[manage][submit]") {
    Setup s;
    Run first = s.run("submit 'A calm lake'");
    INFO(first.output);
    REQUIRE(first.code == 0);
    CHECK(trimmed(first.output) == s.inbox + "/a-calm-lake.json");
    CHECK(trimmed(s.run("submit 'a calm lake!'").output) == s.inbox + "/a-calm-lake-2.json");
    // A delivered job of that name counts too: a new one never shares a name with it.
    const std::string outbox = s.dir.str() + "/outbox";
    sfs::create_directories(outbox);
    std::ofstream(outbox + "/sunset.mp4") << "x";
    CHECK(trimmed(s.run("submit sunset").output) == s.inbox + "/sunset-2.json");
}

TEST_CASE("submit takes aspect, priority, variants and remix-of into the manifest",
          "[manage][submit]") {
    Setup s;
    Run r = s.run(
        "submit 'a tall tower' --name tower --aspect 9:16 --priority 5 --variant thumbnail "
        "--variant spritesheet");
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto m = json::parse(slurp(s.inbox + "/tower.json"));
    CHECK(m["aspect"] == "9:16");
    CHECK(m["priority"] == 5);
    CHECK(m["variants"] == json::array({"thumbnail", "spritesheet"}));
    auto spec = vd::read_manifest(s.inbox + "/tower.json", s.inbox, s.cfg());
    REQUIRE(spec);
    CHECK(spec->size == vd::Size{720, 1280});
    CHECK(spec->priority == 5);

    Run remix = s.run("submit 'the same, at night' --name night --remix-of video_abc123");
    INFO(remix.output);
    REQUIRE(remix.code == 0);
    CHECK(json::parse(slurp(s.inbox + "/night.json"))["remix_of"] == "video_abc123");

    Run bad = s.run("submit 'x' --name odd --variant poster");
    CHECK(bad.code == 2);
    CHECK_THAT(bad.output, Catch::Contains("variants") && Catch::Contains("not a variant"));
    Run both = s.run("submit 'x' --size 1280x720 --aspect 16:9");
    CHECK(both.code != 0);
    CHECK_THAT(both.output, Catch::Contains("excludes"));
}

TEST_CASE("submit --shot writes a storyboard named by its first shot", "[manage][submit]") {
    Setup s(R"(
[providers.studio]
protocol = "chat-sse"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "VD_MANAGE_TEST_STUDIO_KEY"

[providers.studio.models.sora-2]
seconds = [4, 10]
sizes = ["1280x720"]
usd_per_second = 0.02
)");
    Run r = s.run(
        "submit --shot '4:A door opens.' --shot '6:A dog runs in: fast.' --model sora-2 "
        "--name door");
    INFO(r.output);
    // At the default provider each shot is a generation: 6 s is not one of sora-2's lengths.
    CHECK(r.code == 2);
    CHECK_THAT(r.output, Catch::Contains("shots[1].seconds: 6 is not allowed for sora-2"));
    CHECK(sfs::is_empty(s.inbox));

    // At the openai-videos provider each shot is made apart; --continuity chains them.
    Run chained = s.run("submit --shot '4:A lamp.' --shot '8:It turns on.' --continuity");
    INFO(chained.output);
    REQUIRE(chained.code == 0);
    auto board = json::parse(slurp(s.inbox + "/a-lamp.json"));
    CHECK(board["continuity"] == "last-frame");
    auto made = vd::read_manifest(s.inbox + "/a-lamp.json", s.inbox, s.cfg());
    REQUIRE(made);
    CHECK(made->shots.size() == 2);
    CHECK(made->continuity);
    CHECK(made->seconds == 12);
    sfs::remove(s.inbox + "/a-lamp.json");

    sfs::path toml = s.config;
    std::string text = slurp(s.config);
    text.replace(text.find("provider = \"openai\""), 19, "provider = \"studio\"");
    std::ofstream(toml) << text;
    Run ok = s.run("submit --shot '4:A door opens.' --shot '6:A dog runs in: fast.'");
    INFO(ok.output);
    REQUIRE(ok.code == 0);
    auto m = json::parse(slurp(s.inbox + "/a-door-opens.json"));
    CHECK(m ==
          json{{"shots", json::array({{{"seconds", 4}, {"prompt", "A door opens."}},
                                      {{"seconds", 6}, {"prompt", "A dog runs in: fast."}}})}});
    auto spec = vd::read_manifest(s.inbox + "/a-door-opens.json", s.inbox, s.cfg());
    REQUIRE(spec);
    CHECK(spec->prompt == "[4.0s]A door opens. [6.0s]A dog runs in: fast.");

    Run shape = s.run("submit --shot 'four:a door'");
    CHECK(shape.code == 2);
    CHECK_THAT(shape.output, Catch::Contains("--shot \"four:a door\" is not SECONDS:PROMPT"));
    Run none = s.run("submit");
    CHECK(none.code == 2);
    CHECK_THAT(none.output, Catch::Contains("give a prompt, or a storyboard as --shot"));
}

// ---- status ----

TEST_CASE("status lists active jobs first with progress, age, cost, outputs and errors",
          "[manage][status]") {
    Setup s;
    auto running = make_job("cat", 3, vd::State::in_progress);
    running.progress = 50;
    running.spec.prompt = "A very long prompt that goes on and on about a cat and a piano";
    auto waiting = make_job("dog", 4, vd::State::waiting);
    waiting.why = "budget: $9.60 of $10.00 per day spent";
    auto delivered = make_job("bird", 1, vd::State::delivered);
    delivered.output_name = "bird-2";
    auto failed = make_job("fish", 2, vd::State::failed);
    failed.error = [] {
        auto e = vd::JobError::make("generate", "moderation_blocked", "blocked");
        e.http_status = 400;
        return e;
    }();
    for (const auto& j : {running, waiting, delivered, failed})
        save(s, j);
    std::ofstream(s.state + "/jobs/9-broken.json") << "{ not json";
    std::ofstream(s.state + "/ledger.jsonl")
        << json(vd::LedgerEntry{now(), "1-bird", 0.80}).dump() << "\n"
        << json(vd::LedgerEntry{now() - std::chrono::hours(72), "0-old", 2.00}).dump() << "\n";

    Run r = s.run("status");
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto at = [&](const std::string& what) { return r.output.find(what); };
    CHECK(at("cat ") < at("dog "));
    CHECK(at("dog ") < at("fish "));
    CHECK(at("fish ") < at("bird "));  // finished: newest first
    CHECK_THAT(r.output, Catch::Contains("[#####-----]  50%"));
    CHECK_THAT(r.output, Catch::Contains("budget: $9.60 of $10.00 per day spent"));
    CHECK_THAT(r.output, Catch::Contains("-> bird-2.mp4"));
    CHECK_THAT(r.output, Catch::Contains("generate: moderation_blocked"));
    CHECK_THAT(r.output, Catch::Contains("3m1"));  // discovered 3m12s ago
    CHECK_THAT(r.output, Catch::Contains("$0.80"));
    CHECK_THAT(r.output, Catch::Contains("\"A very long prompt that goes on and o...\""));
    CHECK_THAT(r.output, !Catch::Contains("about a cat and a piano"));
    CHECK_THAT(r.output,
               Catch::Contains("4 jobs: 1 waiting, 1 in_progress, 1 delivered, 1 failed"));
    CHECK_THAT(r.output,
               Catch::Contains("spent today $0.80 of $10.00 per day; total $2.80 (no cap)"));
    CHECK_THAT(r.output, Catch::Contains("9-broken.json is not a job record, skipped"));
}

TEST_CASE("status --json gives jobs, totals and spend", "[manage][status]") {
    Setup s;
    auto running = make_job("cat", 2, vd::State::in_progress);
    running.progress = 70;
    save(s, running);
    auto delivered = make_job("bird", 1, vd::State::delivered);
    delivered.output_name = "bird";
    save(s, delivered);
    std::ofstream(s.state + "/ledger.jsonl")
        << json(vd::LedgerEntry{now(), "1-bird", 1.25}).dump() << "\n";

    Run r = s.run("status --json");
    INFO(r.output);
    REQUIRE(r.code == 0);
    json j = json::parse(r.output);
    REQUIRE(j["jobs"].size() == 2);
    CHECK(j["jobs"][0]["name"] == "cat");
    CHECK(j["jobs"][0]["state"] == "in_progress");
    CHECK(j["jobs"][0]["progress"] == 70);
    CHECK(j["jobs"][0]["age_seconds"].get<int>() >= 192);
    CHECK(j["jobs"][1]["output"] == "bird.mp4");
    CHECK(j["jobs"][1]["cost_usd"] == 0.80);
    CHECK(j["totals"]["jobs"] == 2);
    CHECK(j["totals"]["active"] == 1);
    CHECK(j["totals"]["by_state"]["delivered"] == 1);
    CHECK(j["spend"]["today"] == 1.25);
    CHECK(j["spend"]["total"] == 1.25);
    CHECK(j["spend"]["usd_per_day"] == 10.0);
    CHECK(j["spend"]["usd_total"] == 0.0);
}

TEST_CASE("status shows the newest 20 finished jobs unless --all", "[manage][status]") {
    std::vector<vd::Job> jobs;
    for (uint64_t i = 1; i <= 25; ++i)
        jobs.push_back(make_job("job" + std::to_string(i), i, vd::State::delivered));
    jobs.push_back(make_job("active", 26, vd::State::queued));
    vd::Ledger ledger;
    std::string text = vd::manage::status_text(jobs, ledger, {}, now(), false);
    CHECK_THAT(text, Catch::Contains("job25 "));
    CHECK_THAT(text, Catch::Contains("job6 "));
    CHECK_THAT(text, !Catch::Contains("job5 "));
    CHECK_THAT(text, Catch::Contains("(5 older finished jobs not shown; --all shows them)"));
    CHECK_THAT(text, Catch::Contains("26 jobs: 1 queued, 25 delivered"));
    CHECK_THAT(vd::manage::status_text(jobs, ledger, {}, now(), true), Catch::Contains("job5 "));
    CHECK(vd::manage::status_json(jobs, ledger, {}, now(), false)["totals"]["hidden"] == 5);
}

TEST_CASE(
    "status on many finished jobs counts them from the finished index, reads only those "
    "it shows",
    "[manage][status]") {
    Setup s;
    {
        auto store = vd::JobStore::open(s.state);
        REQUIRE(store);
        for (uint64_t i = 1; i <= 30; ++i) {
            auto j = make_job("job" + std::to_string(i), i, vd::State::delivered);
            j.output_name = j.spec.name;
            REQUIRE(store->save(j));
        }
        auto failed = make_job("fish", 31, vd::State::failed);
        failed.error = vd::JobError::make("generate", "moderation_blocked", "blocked");
        REQUIRE(store->save(failed));
        auto shot = make_job("board-shot-1", 32, vd::State::delivered);
        shot.parent = "33-board";
        REQUIRE(store->save(shot));
        REQUIRE(store->save(make_job("board", 33, vd::State::joining)));
        REQUIRE(store->save(make_job("cat", 34, vd::State::in_progress)));
    }
    // Finished, but not in the index (written by an older version): read in full, shown.
    auto old = make_job("owl", 35, vd::State::delivered);
    old.output_name = "owl";
    save(s, old);
    // An old finished record the index names is not read at all: were it read, it would be
    // skipped as broken and not counted.
    std::ofstream(s.state + "/jobs/1-job1.json") << "{ not json";
    // A torn line at the end of the index (a crash mid-append) is skipped.
    std::ofstream(s.state + "/finished.jsonl", std::ios::app) << R"({"id":"34-cat","se)";
    // Manifests not claimed yet are counted apart (the daemon leaves a backlog in the inbox).
    std::ofstream(s.inbox + "/later.json") << R"({"prompt": "later"})";
    std::ofstream(s.inbox + "/cat.png") << "not a manifest";

    Run r = s.run("status");
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, !Catch::Contains("not a job record"));
    CHECK_THAT(r.output,
               Catch::Contains("34 jobs: 1 in_progress, 1 joining, 31 delivered, 1 failed"));
    CHECK_THAT(r.output, Catch::Contains("-> owl.mp4"));
    CHECK_THAT(r.output, Catch::Contains("generate: moderation_blocked"));
    CHECK_THAT(r.output, Catch::Contains("-> job30.mp4"));
    // The 20 newest finished: owl, the shot, fish and job30 down to job14.
    CHECK_THAT(r.output, Catch::Contains("-> job14.mp4"));
    CHECK_THAT(r.output, !Catch::Contains("-> job13.mp4"));
    CHECK_THAT(r.output, Catch::Contains("(13 older finished jobs not shown; --all shows them)"));
    CHECK_THAT(r.output, Catch::Contains("1 manifest waits in the inbox"));
    auto j = json::parse(s.run("status --json").output);
    CHECK(j["totals"]["inbox"] == 1);
    CHECK(j["totals"]["jobs"] == 34);
    CHECK(j["totals"]["active"] == 2);
    CHECK(j["totals"]["hidden"] == 13);
    CHECK(j["jobs"].size() == 22);
    // --all reads every record, the broken one too.
    Run all = s.run("status --all");
    CHECK_THAT(all.output, Catch::Contains("1-job1.json is not a job record, skipped"));
    CHECK_THAT(all.output, Catch::Contains("-> job2.mp4"));
}

TEST_CASE("status ages read as seconds, minutes, hours and days", "[manage][status]") {
    auto t = vd::from_ms(1'000'000'000'000);
    using std::chrono::seconds;
    CHECK(vd::manage::age(t, t + seconds(42)) == "42s");
    CHECK(vd::manage::age(t, t + seconds(192)) == "3m12s");
    CHECK(vd::manage::age(t, t + seconds(2 * 3600 + 5 * 60)) == "2h05m");
    CHECK(vd::manage::age(t, t + seconds(3 * 86400 + 4 * 3600)) == "3d04h");
    CHECK(vd::manage::age(vd::TimePoint{}, t) == "-");
}

// ---- retry ----

TEST_CASE("retry moves a failed job's files back under their original names", "[manage][retry]") {
    Setup s;
    // A collision in failed/ had renamed cat.json and its image; the error file remembers.
    std::ofstream(s.failed + "/cat-2.json") << R"({"prompt":"a cat","image":"photo.png"})";
    std::ofstream(s.failed + "/photo-2.png") << "png bytes";
    std::ofstream(s.failed + "/cat-2.error.json")
        << json{{"schema", "videodrop.error/1"},
                {"name", "cat-2"},
                {"files", {{"cat-2.json", "cat.json"}, {"photo-2.png", "photo.png"}}}}
               .dump();
    std::ofstream(s.failed + "/other.json") << "{}";

    Run r = s.run("retry cat-2");
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(list(s.inbox) == std::vector<std::string>{"cat.json", "photo.png"});
    CHECK(list(s.failed) == std::vector<std::string>{"other.json"});
    CHECK(slurp(s.inbox + "/photo.png") == "png bytes");
    CHECK_THAT(r.output, Catch::Contains("cat-2.json -> " + s.inbox + "/cat.json"));
}

TEST_CASE("retry without a files map finds the manifest and its image by name", "[manage][retry]") {
    Setup s;
    std::ofstream(s.failed + "/beach.txt") << "waves";
    std::ofstream(s.failed + "/beach.jpg") << "jpeg";
    std::ofstream(s.failed + "/beach.error.json") << R"({"name":"beach","manifest":null})";
    std::ofstream(s.failed + "/dog.json") << R"({"prompt":"dog","image":"pic.webp"})";
    std::ofstream(s.failed + "/pic.webp") << "webp";
    std::ofstream(s.failed + "/dog.error.json")
        << R"({"name":"dog","manifest":{"prompt":"dog","image":"pic.webp"}})";

    Run r = s.run("retry --all");
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(list(s.inbox) ==
          std::vector<std::string>{"beach.jpg", "beach.txt", "dog.json", "pic.webp"});
    CHECK(list(s.failed).empty());
}

TEST_CASE("retry of an unknown name or onto a taken inbox name fails and moves nothing",
          "[manage][retry]") {
    Setup s;
    Run unknown = s.run("retry ghost");
    CHECK(unknown.code == 2);
    CHECK_THAT(unknown.output, Catch::Contains("no failed job named ghost"));

    std::ofstream(s.failed + "/cat.json") << R"({"prompt":"old"})";
    std::ofstream(s.failed + "/cat.error.json")
        << R"({"name":"cat","files":{"cat.json":"cat.json"}})";
    std::ofstream(s.inbox + "/cat.json") << R"({"prompt":"new"})";
    Run taken = s.run("retry cat");
    INFO(taken.output);
    CHECK(taken.code == 1);
    CHECK_THAT(taken.output, Catch::Contains("already exists"));
    CHECK(list(s.failed) == std::vector<std::string>{"cat.error.json", "cat.json"});
    CHECK(json::parse(slurp(s.inbox + "/cat.json"))["prompt"] == "new");

    CHECK(s.run("retry").code == 2);
    CHECK(s.run("retry cat --all").code == 2);
}

// A retry that cannot finish must lose nothing: the error file stays until every file is back.
TEST_CASE("retry into an inbox that cannot take the files keeps the job and its error file",
          "[manage][retry]") {
    Setup s;
    std::ofstream(s.failed + "/cat.json") << R"({"prompt":"a cat"})";
    const std::string error = R"({"name":"cat","files":{"cat.json":"cat.json"}})";
    std::ofstream(s.failed + "/cat.error.json") << error;
    // A file where the inbox should be: no move can succeed, root or not.
    sfs::remove_all(s.inbox);
    std::ofstream(s.inbox) << "not a folder";

    Run r = s.run("retry cat");
    INFO(r.output);
    CHECK(r.code == 1);
    CHECK(list(s.failed) == std::vector<std::string>{"cat.error.json", "cat.json"});
    CHECK(slurp(s.failed + "/cat.error.json") == error);
    CHECK_THAT(r.output, Catch::Contains("error file is kept"));

    // Once the inbox is back, the same retry goes through and only then drops the error file.
    sfs::remove(s.inbox);
    sfs::create_directories(s.inbox);
    Run again = s.run("retry cat");
    INFO(again.output);
    CHECK(again.code == 0);
    CHECK(list(s.inbox) == std::vector<std::string>{"cat.json"});
    CHECK(list(s.failed).empty());
}

TEST_CASE("retry that fails part-way puts back what it moved and keeps the error file",
          "[manage][retry]") {
    Setup s;
    // The manifest's original name is longer than a file name may be: the image moves, then the
    // manifest cannot (ENAMETOOLONG, root or not).
    const std::string too_long = std::string(300, 'c') + ".json";
    std::ofstream(s.failed + "/cat-2.json") << R"({"prompt":"a cat","image":"photo.png"})";
    std::ofstream(s.failed + "/photo-2.png") << "png bytes";
    const std::string error =
        json{{"name", "cat-2"}, {"files", {{"cat-2.json", too_long}, {"photo-2.png", "photo.png"}}}}
            .dump();
    std::ofstream(s.failed + "/cat-2.error.json") << error;

    Run r = s.run("retry cat-2");
    INFO(r.output);
    CHECK(r.code == 1);
    CHECK(list(s.inbox).empty());
    CHECK(list(s.failed) ==
          std::vector<std::string>{"cat-2.error.json", "cat-2.json", "photo-2.png"});
    CHECK(slurp(s.failed + "/photo-2.png") == "png bytes");
    CHECK(slurp(s.failed + "/cat-2.error.json") == error);
}

TEST_CASE("a rerun of retry after an interrupted one finishes the job or says why not",
          "[manage][retry]") {
    Setup s;
    const std::string error =
        R"({"name":"cat","files":{"cat.json":"cat.json","cat.png":"cat.png"}})";

    SECTION("stopped after the image: the rerun moves the manifest and drops the error file") {
        std::ofstream(s.inbox + "/cat.png") << "png bytes";
        std::ofstream(s.failed + "/cat.json") << R"({"prompt":"a cat","image":"cat.png"})";
        std::ofstream(s.failed + "/cat.error.json") << error;
        Run r = s.run("retry cat");
        INFO(r.output);
        CHECK(r.code == 0);
        CHECK(list(s.inbox) == std::vector<std::string>{"cat.json", "cat.png"});
        CHECK(list(s.failed).empty());
    }
    SECTION("stopped after the last move: the rerun only drops the error file") {
        std::ofstream(s.inbox + "/cat.png") << "png bytes";
        std::ofstream(s.inbox + "/cat.json") << R"({"prompt":"a cat","image":"cat.png"})";
        std::ofstream(s.failed + "/cat.error.json") << error;
        Run r = s.run("retry cat");
        INFO(r.output);
        CHECK(r.code == 0);
        CHECK_THAT(r.output, Catch::Contains("already moved its files back"));
        CHECK(list(s.inbox) == std::vector<std::string>{"cat.json", "cat.png"});
        CHECK(list(s.failed).empty());
    }
    SECTION("the daemon took the job since: the rerun drops the error file") {
        std::ofstream(s.failed + "/cat.error.json") << error;
        auto job = make_job("cat", 1, vd::State::queued);
        job.spec.manifest_file = "cat.json";
        job.discovered = now() + std::chrono::seconds(5);
        save(s, job);
        Run r = s.run("retry cat");
        INFO(r.output);
        CHECK(r.code == 0);
        CHECK_THAT(r.output, Catch::Contains("the daemon took the job"));
        CHECK(list(s.failed).empty());
    }
    SECTION("the files are nowhere: the rerun says so and keeps the error file") {
        std::ofstream(s.failed + "/cat.error.json") << error;
        Run r = s.run("retry cat");
        INFO(r.output);
        CHECK(r.code == 1);
        CHECK_THAT(r.output, Catch::Contains("cat.json, cat.png are in neither"));
        CHECK(list(s.failed) == std::vector<std::string>{"cat.error.json"});
    }
}

// ---- cancel ----

TEST_CASE("cancel of a claimed job with no daemon running applies at once", "[manage][cancel]") {
    Setup s;
    auto dog = make_job("dog", 1, vd::State::in_progress);
    dog.spec.manifest_file = "dog.json";
    dog.first_submit = now() - std::chrono::seconds(60);
    dog.charged = true;
    save(s, dog);
    sfs::create_directories(s.state + "/claimed/1-dog");
    std::ofstream(s.state + "/claimed/1-dog/dog.json") << R"({"prompt": "prompt of dog"})";
    save(s, make_job("done", 2, vd::State::delivered));

    Run r = s.run("cancel dog");
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK_THAT(r.output, Catch::Contains("dog: cancelled; moved to"));
    CHECK(!sfs::exists(s.state + "/cancel/dog"));  // nothing left for a daemon to do
    CHECK(sfs::exists(s.failed + "/dog.json"));
    std::ifstream in(s.failed + "/dog.error.json");
    auto error = json::parse(in);
    CHECK(error["error"]["code"] == "cancelled");
    CHECK(!sfs::exists(s.state + "/claimed/1-dog"));
    std::ifstream record(s.state + "/jobs/1-dog.json");
    auto job = json::parse(record).get<vd::Job>();
    CHECK(job.state == vd::State::cancelled);
    CHECK(job.charged);  // it reached the provider: its charge stays

    // A finished job is not cancelled, and says so.
    Run finished = s.run("cancel done");
    CHECK(finished.code == 2);
    CHECK_THAT(finished.output, Catch::Contains("no queued or running job named done"));
    CHECK(!sfs::exists(s.state + "/cancel/done"));
}

TEST_CASE("cancel while the daemon holds the lock says the daemon will apply it",
          "[manage][cancel]") {
    Setup s;
    save(s, make_job("dog", 1, vd::State::queued));
    int fd = ::open((s.state + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
    Run r = s.run("cancel dog");
    ::close(fd);
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK_THAT(r.output, Catch::Contains("the daemon applies it"));
    CHECK(sfs::exists(s.state + "/cancel/dog"));
}

TEST_CASE("cancel of a manifest still in the inbox moves it to failed as cancelled",
          "[manage][cancel]") {
    Setup s;
    const std::string png = std::string(VD_SOURCE_DIR) + "/tests/manifests/good/cat-piano.png";
    sfs::copy_file(png, s.inbox + "/cat.png");
    std::ofstream(s.inbox + "/cat.json") << R"({"prompt":"a cat","image":"cat.png"})";
    std::ofstream(s.inbox + "/keep.txt") << "another job";

    Run r = s.run("cancel cat");
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(list(s.inbox) == std::vector<std::string>{"keep.txt"});
    CHECK(list(s.failed) ==
          std::vector<std::string>{".tmp", "cat.error.json", "cat.json", "cat.png"});
    json e = json::parse(slurp(s.failed + "/cat.error.json"));
    CHECK(e["schema"] == "videodrop.error/1");
    CHECK(e["name"] == "cat");
    CHECK(e["manifest"].is_null());
    CHECK(e["error"]["stage"] == "intake");
    CHECK(e["error"]["code"] == "cancelled");
    CHECK(e["error"]["retryable"] == false);
    CHECK_THAT(e["error"]["hint"].get<std::string>(), Catch::Contains("videodrop retry cat"));
    CHECK(!sfs::exists(s.state + "/cancel/cat"));  // nothing left for the daemon to do

    // And retry brings it back.
    CHECK(s.run("retry cat").code == 0);
    CHECK(list(s.inbox) == std::vector<std::string>{"cat.json", "cat.png", "keep.txt"});
}

TEST_CASE("cancel of a name nobody knows fails", "[manage][cancel]") {
    Setup s;
    Run r = s.run("cancel ghost");
    CHECK(r.code == 2);
    CHECK_THAT(r.output, Catch::Contains("no queued or running job named ghost"));
    CHECK(!sfs::exists(s.state + "/cancel"));
    CHECK(s.run("cancel ../etc").code == 2);
}

// ---- check ----

TEST_CASE(
    "check with a good key lists the models and warns of missing ones; a bad key fails "
    "without showing it",
    "[manage][check]") {
    vd::mock::Options o;
    o.keys = {"sk-good-key-123"};
    vd::mock::Server mock(o);
    REQUIRE(mock.start() > 0);
    Setup s(R"(
[providers.local]
base_url = ")" +
            mock.base_url() + R"("
api_key_env = "VD_MANAGE_TEST_KEY"

[providers.local.models.sora-2]
seconds = [4]
sizes = ["1280x720"]

[providers.local.models.veo-9]
seconds = [4]
sizes = ["1280x720"]
)");

    ::setenv("VD_MANAGE_TEST_KEY", "sk-good-key-123", 1);
    Run good = s.run("check --provider local");
    INFO(good.output);
    CHECK(good.code == 0);
    CHECK_THAT(good.output, Catch::Contains("key from environment variable VD_MANAGE_TEST_KEY"));
    CHECK_THAT(good.output, Catch::Contains("key 1: ok (2 models: "));
    CHECK_THAT(good.output, Catch::Contains("does not offer model veo-9"));
    CHECK_THAT(good.output, !Catch::Contains("sk-good-key-123"));

    ::setenv("VD_MANAGE_TEST_KEY", "sk-bad-secret-456", 1);
    Run bad = s.run("check --provider local");
    INFO(bad.output);
    CHECK(bad.code == 1);
    CHECK_THAT(bad.output, Catch::Contains("HTTP 401 invalid_api_key"));
    CHECK_THAT(bad.output, !Catch::Contains("sk-bad-secret-456"));
    ::unsetenv("VD_MANAGE_TEST_KEY");

    // Nothing was created: check never spends.
    CHECK(mock.videos_created() == 0);
    for (const auto& req : mock.requests())
        CHECK(req.method == "GET");

    CHECK(s.run("check --provider nope").code == 2);
    // The openai provider's key variable is not set: that is a failure too, named.
    Run all = s.run("check");
    CHECK(all.code == 1);
    CHECK_THAT(all.output, Catch::Contains("VD_MANAGE_TEST_OPENAI_KEY is not set"));
}

TEST_CASE("check hides a key even when the provider's error message repeats it",
          "[manage][check]") {
    // Some providers quote the key they were sent; this one quotes all of it.
    httplib::Server echo;
    echo.Get(R"(/v1/.*)", [](const httplib::Request& req, httplib::Response& res) {
        std::string auth = req.get_header_value("Authorization");
        json err = {{"error",
                     {{"code", "invalid_api_key"},
                      {"message", "Incorrect API key provided: " + auth.substr(7)}}}};
        res.status = 401;
        res.set_content(err.dump(), "application/json");
    });
    int port = echo.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread serve([&] { echo.listen_after_bind(); });
    Setup s(R"(
[providers.echo]
base_url = "http://127.0.0.1:)" +
            std::to_string(port) + R"(/v1"
api_key_env = "VD_MANAGE_TEST_ECHO_KEY"

[providers.echo.models.sora-2]
seconds = [4]
sizes = ["1280x720"]
)");
    ::setenv("VD_MANAGE_TEST_ECHO_KEY", "sk-echoed-secret-789", 1);
    Run r = s.run("check --provider echo");
    ::unsetenv("VD_MANAGE_TEST_ECHO_KEY");
    echo.stop();
    serve.join();
    INFO(r.output);
    CHECK(r.code == 1);
    CHECK_THAT(r.output, Catch::Contains("Incorrect API key provided: [key]"));
    CHECK_THAT(r.output, !Catch::Contains("sk-echoed-secret-789"));
}

TEST_CASE("check against a web page answering 200 says the base_url is wrong", "[manage][check]") {
    // A base_url pointing at a website (or missing /v1) gets HTML with 200 on every path.
    httplib::Server site;
    site.Get(R"(/.*)", [](const httplib::Request&, httplib::Response& res) {
        res.status = 200;
        res.set_content("<!DOCTYPE html>\n<html><body>Welcome to our AI platform</body></html>",
                        "text/html; charset=utf-8");
    });
    int port = site.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread serve([&] { site.listen_after_bind(); });
    Setup s(R"(
[providers.site]
profile = "new-api"
base_url = "http://127.0.0.1:)" +
            std::to_string(port) + R"("

[providers.site.models.sora-2]
seconds = [4]
sizes = ["1280x720"]
)");
    const char* had = std::getenv("OPENAI_API_KEY");
    const std::string before = had ? had : "";
    ::setenv("OPENAI_API_KEY", "sk-site", 1);
    Run r = s.run("check --provider site");
    if (had)
        ::setenv("OPENAI_API_KEY", before.c_str(), 1);
    else
        ::unsetenv("OPENAI_API_KEY");
    site.stop();
    serve.join();
    INFO(r.output);
    CHECK(r.code == 1);
    CHECK_THAT(r.output, Catch::Contains("profile new-api"));
    // No key source configured: the default variable, named as such.
    CHECK_THAT(r.output,
               Catch::Contains("key from environment variable OPENAI_API_KEY (the default)"));
    CHECK_THAT(r.output, Catch::Contains("GET /models answered a web page (HTML)"));
    CHECK_THAT(r.output, Catch::Contains("GET /videos answered a web page (HTML)"));
    CHECK_THAT(r.output, Catch::Contains("base_url is probably wrong"));
}

TEST_CASE("status --watch without a terminal prints a report every second until interrupted",
          "[manage][status]") {
    Setup s;
    save(s, make_job("cat", 1, vd::State::queued));
    Run r = s.run("status --watch & pid=$!; sleep 2.5; kill -INT $pid; wait $pid");
    INFO(r.output);
    CHECK(r.code == 0);
    size_t reports = 0;
    for (size_t at = 0; (at = r.output.find("1 job: 1 queued", at)) != std::string::npos; ++at)
        ++reports;
    CHECK(reports >= 2);
    CHECK(reports <= 4);
    CHECK_THAT(r.output, !Catch::Contains("\033["));
}

TEST_CASE("submit refuses a prompt that is not UTF-8", "[manage][submit]") {
    Setup s;
    Run r = s.run("submit \"$(printf 'caf\\351')\"");
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK_THAT(r.output, Catch::Contains("the prompt is not valid UTF-8 at byte 3"));
    CHECK(list(s.inbox).empty());
}

// ---- exit codes: 2 for a mistake on the command line, 1 for what is really broken ----

TEST_CASE("submit exits 2 for a value the user can fix and names what to change",
          "[manage][submit][exit]") {
    Setup s;
    Run seconds = s.run("submit 'a dog' --seconds 5");
    INFO(seconds.output);
    CHECK(seconds.code == 2);
    CHECK_THAT(seconds.output, Catch::Contains("seconds"));
    CHECK_THAT(seconds.output, Catch::Contains("4, 8 or 12"));

    Run size = s.run("submit 'a dog' --size 3x3");
    INFO(size.output);
    CHECK(size.code == 2);
    CHECK_THAT(size.output, Catch::Contains("size"));

    Run model = s.run("submit 'a dog' --model no-such-model");
    INFO(model.output);
    CHECK(model.code == 2);
    CHECK_THAT(model.output, Catch::Contains("no-such-model"));

    Run image = s.run("submit 'a dog' --image /nonexistent/dog.png");
    INFO(image.output);
    CHECK(image.code == 2);
    CHECK_THAT(image.output, Catch::Contains("/nonexistent/dog.png"));

    Run folder = s.run("submit 'a dog' --image " + quote(s.dir.str()));
    CHECK(folder.code == 2);
    CHECK(list(s.inbox).empty());
}

TEST_CASE("submit still exits 1 when the inbox is not a usable folder", "[manage][submit][exit]") {
    Setup s;
    sfs::remove_all(s.inbox);
    std::ofstream(s.inbox) << "a file where the inbox should be";
    Run r = s.run("submit 'a dog'");
    INFO(r.output);
    CHECK(r.code == 1);
    CHECK_THAT(r.output, Catch::Contains("[paths] inbox"));
}

TEST_CASE("retry and cancel of unknown names exit 2; a real failure still exits 1",
          "[manage][retry][cancel][exit]") {
    Setup s;
    Run retry = s.run("retry ghost");
    INFO(retry.output);
    CHECK(retry.code == 2);
    CHECK_THAT(retry.output, Catch::Contains("no failed job named ghost in " + s.failed));

    Run cancel = s.run("cancel ghost");
    INFO(cancel.output);
    CHECK(cancel.code == 2);
    CHECK_THAT(cancel.output, Catch::Contains("videodrop status"));
    CHECK(s.run("cancel 'bad name'").code == 2);
    CHECK(s.run("retry ../etc").code == 2);

    // One good name among unknown ones: the good one is still done, the exit says "mistake".
    save(s, make_job("dog", 1, vd::State::queued));
    Run mixed = s.run("cancel ghost dog");
    INFO(mixed.output);
    CHECK(mixed.code == 2);
    std::ifstream record(s.state + "/jobs/1-dog.json");
    CHECK(json::parse(record).get<vd::Job>().state == vd::State::cancelled);

    // The inbox is gone: moving a failed job back cannot work, and that is fatal, even beside
    // an unknown name.
    std::ofstream(s.failed + "/cat.json") << R"({"prompt":"a cat"})";
    std::ofstream(s.failed + "/cat.error.json")
        << R"({"name":"cat","files":{"cat.json":"cat.json"}})";
    sfs::remove_all(s.inbox);
    Run broken = s.run("retry ghost cat");
    INFO(broken.output);
    CHECK(broken.code == 1);
}

// ---- money in status ----

TEST_CASE("status rounds money to cents in JSON and text", "[manage][status][money]") {
    auto job = make_job("cat", 1, vd::State::delivered);
    job.output_name = "cat";
    job.cost_usd = 0.1 * 12;  // 1.2000000000000002
    vd::Ledger ledger;
    ledger.add({now(), "1-cat", 0.1});
    ledger.add({now(), "2-dog", 0.2});  // today: 0.30000000000000004
    vd::BudgetSettings budget;
    budget.usd_per_day = 0.1 * 3;
    json j = vd::manage::status_json({job}, ledger, budget, now(), false);
    std::string dumped = j.dump();
    INFO(dumped);
    CHECK(j["jobs"][0]["cost_usd"].get<double>() == 1.2);
    CHECK(j["spend"]["today"].get<double>() == 0.3);
    CHECK(j["spend"]["total"].get<double>() == 0.3);
    CHECK(j["spend"]["usd_per_day"].get<double>() == 0.3);
    CHECK_THAT(dumped, !Catch::Contains("0000000"));
    CHECK_THAT(dumped, !Catch::Contains("9999999"));
    CHECK_THAT(dumped, Catch::Contains("\"cost_usd\":1.2,"));

    std::string text = vd::manage::status_text({job}, ledger, budget, now(), false);
    CHECK_THAT(text, Catch::Contains("$1.20"));
    CHECK_THAT(text, Catch::Contains("spent today $0.30 of $0.30 per day"));
    CHECK_THAT(text, !Catch::Contains("0000000"));
}

TEST_CASE("status --json of the real binary prints rounded costs", "[manage][status][money]") {
    Setup s;
    auto job = make_job("cat", 1, vd::State::delivered);
    job.output_name = "cat";
    job.cost_usd = 0.1 * 12;
    save(s, job);
    std::ofstream(s.state + "/ledger.jsonl")
        << json(vd::LedgerEntry{now(), "1-cat", 0.1}).dump() << "\n"
        << json(vd::LedgerEntry{now(), "2-dog", 0.2}).dump() << "\n";
    Run r = s.run("status --json");
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, Catch::Contains("\"cost_usd\":1.2,"));
    CHECK_THAT(r.output, Catch::Contains("\"today\":0.3,"));
    CHECK_THAT(r.output, !Catch::Contains("0000000"));
}
