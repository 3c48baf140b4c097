#include "daemon/job_store.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "daemon/finished_index.hpp"
#include "daemon/fsutil.hpp"

namespace {

namespace stdfs = std::filesystem;

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/vd-store-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { stdfs::remove_all(path); }
};

void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

std::string slurp(const std::string& path) {
    auto r = vd::fs::read_file(path, 1 << 20);
    REQUIRE(r);
    return *r;
}

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : stdfs::directory_iterator(dir))
        out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
}

vd::JobStore open_store(const std::string& dir) {
    auto s = vd::JobStore::open(dir);
    REQUIRE(s);
    return std::move(*s);
}

}  // namespace

TEST_CASE("write_atomic replaces the file and leaves no .tmp behind", "[store]") {
    TempDir t;
    const std::string f = t.path + "/record.json";
    REQUIRE(vd::fs::write_atomic(f, "first"));
    REQUIRE(vd::fs::write_atomic(f, "second, longer"));
    CHECK(slurp(f) == "second, longer");
    CHECK(names_in(t.path) == std::vector<std::string>{"record.json"});
}

TEST_CASE("write_atomic into a missing folder fails naming the file", "[store]") {
    TempDir t;
    auto r = vd::fs::write_atomic(t.path + "/nope/x.json", "x");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains(t.path + "/nope/x.json."));
    CHECK_THAT(r.error(), Catch::Contains("No such file or directory"));
}

TEST_CASE("read_file refuses a file above the cap, naming the file and its size", "[store]") {
    TempDir t;
    write(t.path + "/big", std::string(100, 'x'));
    CHECK(vd::fs::read_file(t.path + "/big", 100).value() == std::string(100, 'x'));
    auto r = vd::fs::read_file(t.path + "/big", 99);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains(t.path + "/big") && Catch::Contains("100 bytes"));
}

TEST_CASE("make_dirs creates nested folders and accepts existing ones", "[store]") {
    TempDir t;
    REQUIRE(vd::fs::make_dirs(t.path + "/a/b/c"));
    REQUIRE(vd::fs::make_dirs(t.path + "/a/b/c/"));
    CHECK(stdfs::is_directory(t.path + "/a/b/c"));
    write(t.path + "/file", "");
    auto r = vd::fs::make_dirs(t.path + "/file/sub");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("not a folder"));
}

TEST_CASE("a second store on the same state folder is refused with the owner's pid", "[store]") {
    TempDir t;
    auto first = vd::JobStore::open(t.path + "/state");
    REQUIRE(first);
    auto second = vd::JobStore::open(t.path + "/state");
    REQUIRE_FALSE(second);
    CHECK_THAT(second.error(), Catch::Contains("another videodrop is using " + t.path + "/state") &&
                                   Catch::Contains("pid " + std::to_string(::getpid())));

    // Moving the store keeps the lock; destroying it releases the lock.
    vd::JobStore moved = std::move(*first);
    CHECK_FALSE(vd::JobStore::open(t.path + "/state"));
    { vd::JobStore gone = std::move(moved); }
    CHECK(vd::JobStore::open(t.path + "/state"));
}

TEST_CASE("claim moves the manifest and its image out of the inbox", "[store]") {
    TempDir t;
    const std::string inbox = t.path + "/inbox";
    stdfs::create_directory(inbox);
    write(inbox + "/cat.txt", "a cat");
    write(inbox + "/cat.png", "png");
    write(inbox + "/dog.txt", "a dog");
    auto store = open_store(t.path + "/state");

    auto c = store.claim(inbox, "cat.txt", {"cat.png", "cat.webp"});
    REQUIRE(c);
    // The random tag keeps every name derived from the id unguessable.
    CHECK_THAT(c->id, Catch::StartsWith(std::to_string(c->seq) + "-cat~"));
    CHECK(c->id.size() == std::to_string(c->seq).size() + 5 + 8);
    CHECK(vd::JobStore::claim_of(c->id, "cat"));
    CHECK_FALSE(vd::JobStore::claim_of(c->id, "ca"));
    CHECK(c->dir == store.claimed_dir(c->id));
    CHECK(c->manifest_path == c->dir + "/cat.txt");
    CHECK(c->companions == std::vector<std::string>{"cat.png"});  // the missing .webp is no error
    CHECK(slurp(c->manifest_path) == "a cat");
    CHECK(slurp(c->dir + "/cat.png") == "png");
    CHECK(names_in(inbox) == std::vector<std::string>{"dog.txt"});

    auto d = store.claim(inbox, "dog.txt", {});
    REQUIRE(d);
    CHECK(d->seq > c->seq);
}

TEST_CASE("claiming a manifest that vanished reports it as taken and leaves nothing", "[store]") {
    TempDir t;
    stdfs::create_directory(t.path + "/inbox");
    auto store = open_store(t.path + "/state");
    auto c = store.claim(t.path + "/inbox", "gone.json", {});
    REQUIRE_FALSE(c);
    CHECK(c.error().kind == vd::ClaimError::Kind::taken);
    CHECK(names_in(t.path + "/state/claimed").empty());

    auto bad = store.claim(t.path + "/inbox", "../escape.json", {});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().kind == vd::ClaimError::Kind::failed);
}

TEST_CASE("job ids never repeat across reopen, even when the last claim was removed", "[store]") {
    TempDir t;
    const std::string inbox = t.path + "/inbox";
    stdfs::create_directory(inbox);
    std::vector<uint64_t> seqs;
    for (int round = 0; round < 3; ++round) {
        auto store = open_store(t.path + "/state");
        write(inbox + "/cat.json", "{}");
        auto c = store.claim(inbox, "cat.json", {});
        REQUIRE(c);
        seqs.push_back(c->seq);
        REQUIRE(store.remove_claim(c->id));  // no record, no claim folder: nothing on disk names it
    }
    CHECK(seqs[0] < seqs[1]);
    CHECK(seqs[1] < seqs[2]);
}

TEST_CASE("save and load_all round-trip a job", "[store]") {
    TempDir t;
    auto store = open_store(t.path + "/state");
    vd::Job job;
    job.id = "7-cat";
    job.seq = 7;
    job.state = vd::State::in_progress;
    job.spec.name = "cat";
    job.spec.model = "sora-2";
    job.spec.seconds = 8;
    job.spec.size = {1280, 720};
    job.spec.prompt = "a cat at a piano";
    job.spec.meta = {{"project", "x"}};
    job.video_id = "video_123";
    job.request_ids = {"req_1"};
    job.discovered = vd::from_ms(1795341600000);
    job.cost_usd = 0.8;
    job.output_name = "cat-2";
    vd::Job other = job;
    other.id = "12-dog";
    other.spec.name = "dog";
    REQUIRE(store.save(other));
    REQUIRE(store.save(job));

    auto loaded = store.load_all();
    CHECK(loaded.problems.empty());
    REQUIRE(loaded.jobs.size() == 2);
    const vd::Job& back = loaded.jobs[0];  // claim order: 7 before 12
    CHECK(back.id == "7-cat");
    CHECK(back.state == vd::State::in_progress);
    CHECK(back.spec.prompt == "a cat at a piano");
    CHECK(back.spec.size == vd::Size{1280, 720});
    CHECK(back.spec.meta == job.spec.meta);
    CHECK(back.video_id == "video_123");
    CHECK(back.request_ids == job.request_ids);
    CHECK(back.discovered == job.discovered);
    CHECK(back.cost_usd == Approx(0.8));
    CHECK(back.output_name == "cat-2");
    CHECK(loaded.jobs[1].id == "12-dog");
    CHECK(names_in(t.path + "/state/jobs") ==
          std::vector<std::string>{"12-dog.json", "7-cat.json"});
}

TEST_CASE("a corrupt job record is moved aside and reported, the rest still load", "[store]") {
    TempDir t;
    auto store = open_store(t.path + "/state");
    vd::Job good;
    good.id = "1-good";
    REQUIRE(store.save(good));
    write(t.path + "/state/jobs/2-torn.json", "{\"id\": \"2-to");
    write(t.path + "/state/jobs/3-wrong.json",
          "{\"id\": \"1-good\", \"spec\": {}, \"state\": \"queued\"}");

    auto loaded = store.load_all();
    REQUIRE(loaded.jobs.size() == 1);
    CHECK(loaded.jobs[0].id == "1-good");
    REQUIRE(loaded.problems.size() == 2);
    CHECK_THAT(loaded.problems[0],
               Catch::Contains("2-torn.json") && Catch::Contains("moved aside"));
    CHECK(stdfs::exists(t.path + "/state/jobs/2-torn.json.corrupt"));
    CHECK(stdfs::exists(t.path + "/state/jobs/3-wrong.json.corrupt"));
    CHECK(store.load_all().problems.empty());  // reported once
}

TEST_CASE("claims without a record are orphans; empty claim folders vanish at open", "[store]") {
    TempDir t;
    const std::string inbox = t.path + "/inbox";
    stdfs::create_directory(inbox);
    write(inbox + "/cat.json", "{\"image\": \"cat.png\"}");
    write(inbox + "/cat.png", "png");
    write(inbox + "/dog.json", "{}");
    std::string orphan, empty_id;
    {
        auto store = open_store(t.path + "/state");
        // A crash after the manifest's rename but before its image's and the first save.
        auto c = store.claim(inbox, "cat.json", {});
        REQUIRE(c);
        orphan = c->id;
        auto d = store.claim(inbox, "dog.json", {});
        REQUIRE(d);
        vd::Job job;
        job.id = d->id;
        REQUIRE(store.save(job));
        // A crash between creating a claim folder and the rename into it.
        empty_id = "999-empty";
        stdfs::create_directory(store.claimed_dir(empty_id));
    }
    auto store = open_store(t.path + "/state");
    CHECK(store.orphan_claims() == std::vector<std::string>{orphan});
    CHECK_FALSE(stdfs::exists(store.claimed_dir(empty_id)));

    auto adopted = store.adopt(orphan, inbox, {"cat.png", "cat.webp"});
    REQUIRE(adopted);
    CHECK(*adopted == std::vector<std::string>{"cat.png"});
    CHECK(stdfs::exists(store.claimed_dir(orphan) + "/cat.png"));

    // Numbering continues past the highest id seen, even one that no longer exists.
    write(inbox + "/eel.json", "{}");
    auto e = store.claim(inbox, "eel.json", {});
    REQUIRE(e);
    CHECK(e->seq > 999);
}

TEST_CASE("remove_claim deletes the claim folder and its files", "[store]") {
    TempDir t;
    stdfs::create_directory(t.path + "/inbox");
    write(t.path + "/inbox/cat.txt", "a cat");
    auto store = open_store(t.path + "/state");
    auto c = store.claim(t.path + "/inbox", "cat.txt", {});
    REQUIRE(c);
    REQUIRE(store.remove_claim(c->id));
    CHECK_FALSE(stdfs::exists(c->dir));
    CHECK(store.remove_claim(c->id));  // already gone is fine
}

TEST_CASE("the ledger reads back; a torn last line is ignored and cut before the next append",
          "[store]") {
    TempDir t;
    const std::string ledger = t.path + "/state/ledger.jsonl";
    {
        auto store = open_store(t.path + "/state");
        REQUIRE(store.append_ledger({vd::from_ms(1000), "1-cat", 0.8}));
        REQUIRE(store.append_ledger({vd::from_ms(2000), "1-cat", -0.8}));
        auto back = store.load_ledger();
        REQUIRE(back);
        REQUIRE(back->size() == 2);
        CHECK(back->at(1).usd == Approx(-0.8));
        CHECK(back->at(1).at == vd::from_ms(2000));
    }
    // A crash mid-append.
    std::ofstream(ledger, std::ios::app) << "{\"at\": 3000, \"job\": \"2-d";
    {
        auto store = open_store(t.path + "/state");
        REQUIRE(store.append_ledger({vd::from_ms(4000), "3-eel", 1.2}));
        auto back = store.load_ledger();
        REQUIRE(back);
        REQUIRE(back->size() == 3);
        CHECK(back->at(2).job == "3-eel");
    }
    // An entry that lost only its newline is kept: it may have been spent.
    std::ofstream(ledger, std::ios::app) << R"({"at":4500,"job":"4-fox","usd":0.4})";
    {
        auto store = open_store(t.path + "/state");
        REQUIRE(store.append_ledger({vd::from_ms(4600), "5-gnu", 0.1}));
        auto back = store.load_ledger();
        REQUIRE(back);
        REQUIRE(back->size() == 5);
        CHECK(back->at(3).job == "4-fox");
    }
    // The reader alone also tolerates a torn tail.
    std::ofstream(ledger, std::ios::app) << "{\"at\": 5";
    auto store = open_store(t.path + "/state");
    std::ofstream(ledger, std::ios::app) << "{\"at\": 6";
    auto back = store.load_ledger();
    REQUIRE(back);
    CHECK(back->size() == 5);
}

TEST_CASE("a bad ledger line in the middle is an error naming the line", "[store]") {
    TempDir t;
    auto store = open_store(t.path + "/state");
    REQUIRE(store.append_ledger({vd::from_ms(1000), "1-cat", 0.8}));
    std::ofstream(t.path + "/state/ledger.jsonl", std::ios::app) << "garbage\n";
    REQUIRE(store.append_ledger({vd::from_ms(2000), "2-dog", 0.4}));
    auto back = store.load_ledger();
    REQUIRE_FALSE(back);
    CHECK_THAT(back.error(), Catch::Contains("ledger.jsonl line 2"));
}

TEST_CASE("finished records are outlined in finished.jsonl; load_all fills in what is missing",
          "[store]") {
    TempDir t;
    auto store = open_store(t.path + "/state");
    auto job = [](const std::string& id, uint64_t seq, vd::State state) {
        vd::Job j;
        j.id = id;
        j.seq = seq;
        j.state = state;
        j.spec.name = id;
        return j;
    };
    REQUIRE(store.save(job("1-a", 1, vd::State::in_progress)));
    CHECK(vd::finished_index::read(store.dir()).empty());  // only finished jobs are outlined
    REQUIRE(store.save(job("1-a", 1, vd::State::delivered)));
    auto shot = job("2-b", 2, vd::State::failed);
    shot.parent = "9-board";
    REQUIRE(store.save(shot));
    auto index = vd::finished_index::read(store.dir());
    REQUIRE(index.size() == 2);
    CHECK(index["1-a"].seq == 1);
    CHECK(index["1-a"].state == vd::State::delivered);
    CHECK(index["2-b"].parent == "9-board");

    // A torn last line is skipped; a later line for the same job wins.
    write(t.path + "/state/finished.jsonl", slurp(t.path + "/state/finished.jsonl") +
                                                R"({"id":"1-a","seq":1,"state":"cancelled"})" +
                                                "\n" + R"({"id":"2-b","seq)");
    index = vd::finished_index::read(store.dir());
    CHECK(index.size() == 2);
    CHECK(index["1-a"].state == vd::State::cancelled);

    // Records finished before the index existed (or its lines lost) are outlined at start.
    ::unlink((t.path + "/state/finished.jsonl").c_str());
    auto loaded = store.load_all();
    CHECK(loaded.jobs.size() == 2);
    index = vd::finished_index::read(store.dir());
    REQUIRE(index.size() == 2);
    CHECK(index["1-a"].state == vd::State::delivered);
    CHECK(index["2-b"].state == vd::State::failed);
    // ... once: a second start appends nothing.
    const std::string after_first = slurp(t.path + "/state/finished.jsonl");
    store.load_all();
    CHECK(slurp(t.path + "/state/finished.jsonl") == after_first);
}
