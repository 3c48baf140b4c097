// Fakes of the shell's ports (daemon/ports.hpp) for the deterministic simulation: the state
// folder, the outbox and failed/ as plain data that outlives a crash, HTTP answered by the
// simulated provider, a probe that reads what the provider made, and a clock the simulation
// moves. Every call that changes something is an effect, and before each one the process may
// die (a `Crash` is thrown), so crashes land between any two effects, inside Deliver and Fail
// included.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>

#include "daemon/ports.hpp"
#include "tests/sim/sim_provider.hpp"

namespace vd::sim {

struct Crash {};

// What survives a crash: the state folder and the output folders.
struct World {
    std::map<std::string, Job> records;  // STATE/jobs, as written
    std::vector<LedgerEntry> ledger;
    nlohmann::json limits;
    // STATE/claimed/<id>: a claim, and the failed/ stem its Fail planned (kept in the claim, as
    // the real plan file is), so a Fail cut short finishes under the same name.
    std::map<std::string, std::string> claims;
    std::map<std::string, std::string> outbox;                    // stem -> job id
    std::map<std::string, std::pair<std::string, State>> failed;  // stem -> job id, state
};

// The simulation's side the fakes need: the time, the event queue, and the chance of a crash.
struct Host {
    std::function<TimePoint()> now;
    // Runs `fn` at `at` unless a crash came first.
    std::function<void(TimePoint at, std::function<void()> fn)> later;
    std::function<void()> effect;  // may throw Crash
    std::function<Millis()> latency;
};

class SimClock final : public ports::Clock {
  public:
    explicit SimClock(Host& h) : h_(h) {}
    TimePoint now() const override { return h_.now(); }

  private:
    Host& h_;
};

class SimHttp final : public ports::Http {
  public:
    SimHttp(Host& h, Provider& p, std::map<std::string, bool>& truncated)
        : h_(h), provider_(p), truncated_(truncated) {}
    void send(const HttpRequest& req, Done done, Piece) override {
        h_.effect();
        h_.later(h_.now() + h_.latency(), [this, req, done] {
            bool answered = true;
            HttpResult r = provider_.handle(req, h_.now(), answered);
            if (!answered) {
                HttpResult lost;
                lost.transport = TransportError::after_send;
                lost.transport_message = "Operation timed out";
                h_.later(h_.now() + Millis{30000}, [done, lost] { done(lost); });
                return;
            }
            h_.later(h_.now() + h_.latency(), [done, r] { done(r); });
        });
    }
    void download(const Download& d, const std::string&, DownloadDone done) override {
        h_.effect();
        h_.later(h_.now() + h_.latency() + Millis{500}, [this, d, done] {
            bool answered = true;
            HttpResult r = provider_.handle(d.request, h_.now(), answered);
            if (!answered) {
                r = {};
                r.transport = TransportError::after_send;
                r.transport_message = "transfer closed with outstanding read data remaining";
            }
            if (d.variant == "video") truncated_[d.job] = provider_.truncated_download();
            done(r, r.status == 200 ? 1'000'000 : 0);
        });
    }

  private:
    Host& h_;
    Provider& provider_;
    std::map<std::string, bool>& truncated_;
};

// The probe reads what the download got: a truncated file has half its packets.
class SimMedia final : public ports::Media {
  public:
    SimMedia(Host& h, World& w, std::map<std::string, bool>& truncated)
        : h_(h), w_(w), truncated_(truncated) {}
    void probe(const std::string& path, bool, std::function<void(MediaInfo)> done) override {
        h_.effect();
        std::string job = path.substr(4, path.rfind('.') - 4);  // "tmp/<job>.video"
        h_.later(h_.now() + Millis{30}, [this, job, done] {
            const Job& rec = w_.records.at(job);
            MediaInfo m;
            m.opened = true;
            m.container = "mp4";
            m.has_video = true;
            m.video_codec = "h264";
            m.width = rec.spec.size.width;
            m.height = rec.spec.size.height;
            m.duration = rec.spec.seconds;
            m.frames = rec.spec.seconds * 30;
            m.video_packets = truncated_[job] ? m.frames / 2 : m.frames;
            m.last_video_pts = m.duration;
            done(m);
        });
    }
    // A storyboard's join and frames: done after a while, as the real ones on the threadpool.
    void join(std::vector<std::string>, std::string, Done done) override {
        h_.effect();
        h_.later(h_.now() + Millis{20}, [done] { done(""); });
    }
    void last_frame(std::string, Size, std::string, Done done) override {
        h_.effect();
        h_.later(h_.now() + Millis{10}, [done] { done(""); });
    }

  private:
    Host& h_;
    World& w_;
    std::map<std::string, bool>& truncated_;
};

class SimState final : public ports::State {
  public:
    SimState(Host& h, World& w) : h_(h), w_(w) {}
    tl::expected<void, std::string> save(const Job& job) override {
        h_.effect();
        nlohmann::json j = job;  // written and read back through JSON, as the real store does
        w_.records[job.id] = j.get<Job>();
        return {};
    }
    tl::expected<void, std::string> append_ledger(const LedgerEntry& e) override {
        h_.effect();
        w_.ledger.push_back(e);
        return {};
    }
    tl::expected<void, std::string> save_limits(const nlohmann::json& limits) override {
        h_.effect();
        w_.limits = limits;
        return {};
    }
    bool has_claim(const std::string& id) const override { return w_.claims.count(id) > 0; }
    tl::expected<void, std::string> remove_claim(const std::string& id) override {
        h_.effect();
        w_.claims.erase(id);
        return {};
    }

  private:
    Host& h_;
    World& w_;
};

class SimFiles final : public ports::Files {
  public:
    SimFiles(Host& h, World& w) : h_(h), w_(w) {}
    std::string outbox() const override { return "outbox"; }
    std::string failed() const override { return "failed"; }
    std::string download_path(const std::string& job, const std::string& variant) override {
        return "tmp/" + job + "." + variant;
    }
    std::string choose_output_name(const std::string& name) override {
        return free_stem(w_.outbox, name);
    }
    std::string shot_path(const std::string& storyboard, int shot,
                          const std::string& ext) override {
        return "tmp/" + storyboard + ".shot" + std::to_string(shot + 1) + "." + ext;
    }
    tl::expected<void, std::string> keep_shot(const Job&) override {
        h_.effect();
        return {};
    }
    tl::expected<std::string, std::string> publish(const Job& job, const std::vector<Job>&,
                                                   TimePoint) override {
        h_.effect();
        auto it = w_.outbox.find(job.output_name);
        if (it != w_.outbox.end() && it->second != job.id)
            return tl::unexpected(job.output_name + " is another job's");
        w_.outbox[job.output_name] = job.id;
        return job.output_name;
    }
    // As the real one: the inputs and error file into failed/ (under the stem planned in the
    // claim); the executor removes the claim after telling the outcome.
    tl::expected<std::string, std::string> fail(const Job& job) override {
        h_.effect();
        auto claim = w_.claims.find(job.id);
        if (claim == w_.claims.end()) return std::string();
        if (claim->second.empty()) {
            claim->second = free_stem(w_.failed, job.spec.name);
            w_.failed[claim->second] = {job.id, job.state};
        }
        return claim->second;  // the claim goes after the outcome is told (State port)
    }

  private:
    template <class Map>
    static std::string free_stem(const Map& taken, const std::string& name) {
        for (int n = 1;; ++n) {
            std::string stem = n == 1 ? name : name + "-" + std::to_string(n);
            if (!taken.count(stem)) return stem;
        }
    }
    Host& h_;
    World& w_;
};

}  // namespace vd::sim
