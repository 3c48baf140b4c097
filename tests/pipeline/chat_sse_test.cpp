// The chat-completions streaming protocol: requests, the event stream read whole and in pieces
// split anywhere, and the engine's handling of a stream as the job.
#include <catch2/catch.hpp>

#include "pipeline/chat_sse/chat_sse.hpp"
#include "tests/pipeline/engine_fixtures.hpp"

using namespace vd;
using J = nlohmann::json;

namespace {

ProviderSettings chat_provider() {
    ProviderSettings p;
    p.name = "p";
    p.protocol = "chat-sse";
    p.base_url = "http://sora.test/v1/";
    p.models["sora-2"] = ModelSpec{"sora-2", {4, 8}, {"1280x720", "720x1280"}, 0.10};
    return p;
}

std::string chunk(const J& delta, const J& finish = nullptr) {
    J c = {{"id", "chatcmpl-42"},
           {"object", "chat.completion.chunk"},
           {"model", "sora-video-landscape-8s"},
           {"choices", J::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
    return "data: " + c.dump() + "\n\n";
}

const std::string kUrl = "http://sora.test/tmp/abc.mp4?sig=x";

// A whole answer as servers send it: a comment, progress, the fenced HTML tag, stop, [DONE].
std::string full_stream(const std::string& eol = "\n") {
    std::string s =
        ": keep-alive\n\n" + chunk({{"role", "assistant"}}) +
        chunk({{"reasoning_content", "Generating video... 12%"}}) +
        chunk({{"reasoning_content", "progress 57.5 %"}}) +
        chunk({{"content", "```html\n<video src='" + kUrl + "' controls></video>\n```"}}) +
        chunk(J::object(), "stop") + "data: [DONE]\n\n";
    if (eol == "\n") return s;
    std::string out;
    for (char c : s)
        out += c == '\n' ? eol : std::string(1, c);
    return out;
}

HttpResult answer(const std::string& body) {
    HttpResult r;
    r.status = 200;
    r.content_type = "text/event-stream";
    r.body = body;
    return r;
}

const protocol::Protocol& chat() {
    return *protocol::find("chat-sse");
}

}  // namespace

TEST_CASE("a chat-sse create is one streamed POST to /chat/completions", "[chat_sse]") {
    auto p = chat_provider();
    p.stream_timeout = Millis{600000};
    JobSpec job = spec("a");
    HttpRequest r = chat().create(p, job, 0);
    CHECK(r.method == "POST");
    CHECK(r.url == "http://sora.test/v1/chat/completions");
    CHECK(r.side_effects);
    CHECK(r.stream);
    CHECK(r.timeout == Millis{600000});
    CHECK(r.embed.empty());
    auto body = J::parse(r.body);
    CHECK(body["model"] == "sora-video-landscape-8s");
    CHECK(body["stream"] == true);
    CHECK(body["messages"] == J::array({{{"role", "user"}, {"content", job.prompt}}}));
    CHECK(std::count(r.headers.begin(), r.headers.end(),
                     std::pair<std::string, std::string>{"Accept", "text/event-stream"}) == 1);

    SECTION("an image goes as a second part, put in by the shell as a data: URL") {
        job.image = "/state/claimed/a/ref.fitted.png";
        job.size = {720, 1280};
        r = chat().create(p, job, 0);
        body = J::parse(r.body);
        CHECK(body["model"] == "sora-video-portrait-8s");
        auto content = body["messages"][0]["content"];
        REQUIRE(content.size() == 2);
        CHECK(content[0] == J({{"type", "text"}, {"text", job.prompt}}));
        CHECK(content[1]["type"] == "image_url");
        REQUIRE(r.embed.size() == 1);
        CHECK(r.embed[0].pointer == "/messages/0/content/1/image_url/url");
        CHECK(r.embed[0].file_path == job.image);
        CHECK(r.embed[0].content_type == "image/png");
        // The pointer names the place the body has for it.
        CHECK(body.contains(J::json_pointer(r.embed[0].pointer)));
    }
    SECTION("chat_model names the wire model") {
        p.models["sora-2"].chat_model = "sora2pro-{orientation}-{seconds}s-hd";
        job.size = {720, 1280};
        job.seconds = 4;
        CHECK(J::parse(chat().create(p, job, 0).body)["model"] == "sora2pro-portrait-4s-hd");
    }
    SECTION("check's availability probe is not streamed and spends nothing") {
        auto probe = chat().availability(p, "sora-video-landscape-4s", 0);
        REQUIRE(probe);
        CHECK(J::parse(probe->body)["stream"] == false);
        CHECK_FALSE(probe->stream);
        CHECK(chat().credentials(p, 0).url == "http://sora.test/v1/models");
    }
    CHECK_FALSE(chat().polls());
    CHECK_FALSE(chat().lists(p));
}

TEST_CASE("chat_model templates name only {orientation} and {seconds}", "[chat_sse]") {
    CHECK_FALSE(chat_sse::template_error("sora-video-{orientation}-{seconds}s"));
    CHECK_FALSE(chat_sse::template_error("fixed-name"));
    CHECK(chat_sse::template_error("sora-{size}-{seconds}s") == "{size}");
    CHECK(chat_sse::template_error("sora-{orientation") == "{orientation");
}

TEST_CASE("a finished stream is a completed video with the URL of its content", "[chat_sse]") {
    for (std::string eol : {"\n", "\r\n", "\r"}) {
        INFO("line ending " << J(eol).dump());
        auto v = chat().video(answer(full_stream(eol)), Dialect{});
        REQUIRE(v);
        CHECK(v->status == protocol::VideoStatus::completed);
        CHECK(v->result_url == kUrl);
        CHECK(v->id == "chatcmpl-42");
        CHECK(v->model == "sora-video-landscape-8s");
        CHECK(v->progress == 57);
    }
}

TEST_CASE("progress is read from pieces split anywhere, within a bound", "[chat_sse]") {
    const std::string s = full_stream("\r\n");
    for (size_t cut = 0; cut <= s.size(); ++cut) {
        std::string pending;
        std::optional<int> last;
        for (auto piece : {std::string_view(s).substr(0, cut), std::string_view(s).substr(cut)})
            if (auto p = chat().stream_progress(pending, piece)) last = p;
        INFO("cut at " << cut);
        CHECK(last == 57);
    }
    SECTION("byte by byte") {
        std::string pending;
        std::vector<int> seen;
        for (char c : s)
            if (auto p = chat().stream_progress(pending, std::string_view(&c, 1)))
                seen.push_back(*p);
        CHECK(seen == std::vector<int>{12, 57});
        CHECK(pending.empty());
    }
    SECTION("a line without end is not kept whole") {
        std::string pending;
        std::string junk(200 * 1024, 'x');
        CHECK_FALSE(chat().stream_progress(pending, "data: " + junk));
        CHECK_FALSE(chat().stream_progress(pending, junk));
        CHECK(pending.size() <= 1);
        // The next line is read again.
        CHECK(chat().stream_progress(pending, "\n" + chunk({{"reasoning_content", "33%"}})) == 33);
    }
}

TEST_CASE("what a stream can end with instead of a video", "[chat_sse]") {
    SECTION("an error object: the job fails with the server's code and words") {
        auto v = chat().video(
            answer(chunk({{"reasoning_content", "10%"}}) + "data: " +
                   J({{"error", {{"message", "No available accounts"}, {"code", "no_token"}}}})
                       .dump() +
                   "\n\n"),
            Dialect{});
        REQUIRE(v);
        CHECK(v->status == protocol::VideoStatus::failed);
        REQUIRE(v->error);
        CHECK(v->error->code == "no_token");
        CHECK(v->error->message == "No available accounts");
    }
    SECTION("a final content without a URL: a refusal, in the server's words") {
        auto v = chat().video(
            answer(chunk({{"content", "This content may violate our content policies."}}) +
                   chunk(J::object(), "stop") + "data: [DONE]\n\n"),
            Dialect{});
        REQUIRE(v);
        CHECK(v->status == protocol::VideoStatus::failed);
        CHECK(v->error->code == "moderation_blocked");
        CHECK(v->error->message == "This content may violate our content policies.");
    }
    SECTION("a stream cut before its end names no video: unreadable, not a refusal") {
        auto v = chat().video(answer(chunk({{"reasoning_content", "50%"}})), Dialect{});
        REQUIRE_FALSE(v);
        CHECK_THAT(v.error().message, Catch::Contains("ended before it named a video"));
    }
    SECTION("a server that did not stream: one chat.completion") {
        J whole = {{"id", "chatcmpl-1"},
                   {"object", "chat.completion"},
                   {"choices", J::array({{{"message", {{"content", "![video](" + kUrl + ")"}}},
                                          {"finish_reason", "stop"}}})}};
        auto v = chat().video(answer(whole.dump()), Dialect{});
        REQUIRE(v);
        CHECK(v->result_url == kUrl);
    }
}

TEST_CASE("URLs and percentages in the servers' free text", "[chat_sse]") {
    CHECK(chat_sse::video_url_in("<video src=\"https://a.test/v.mp4\" controls>") ==
          "https://a.test/v.mp4");
    CHECK(chat_sse::video_url_in("<video controls><source src='http://a.test/x.mp4'></video>") ==
          "http://a.test/x.mp4");
    CHECK(chat_sse::video_url_in("Done: [watch](https://a.test/w.mp4).") == "https://a.test/w.mp4");
    CHECK(chat_sse::video_url_in("here it is https://a.test/bare.mp4, enjoy") ==
          "https://a.test/bare.mp4");
    CHECK(chat_sse::video_url_in("src='javascript:alert(1)'") == "");
    CHECK(chat_sse::video_url_in("no link at all") == "");
    CHECK(chat_sse::percent_in("Generating... 42%") == 42);
    CHECK(chat_sse::percent_in("from 10% to 99.9 %") == 99);
    CHECK(chat_sse::percent_in("250%") == std::nullopt);
    CHECK(chat_sse::percent_in("no number %") == std::nullopt);
}

namespace {

Settings chat_settings() {
    Settings s = settings();
    s.providers["p"] = chat_provider();
    return s;
}

}  // namespace

TEST_CASE("the engine: a stream is the job, progress while it runs, then the link is fetched",
          "[chat_sse][engine]") {
    Engine e(chat_settings(), 1);
    auto cs = add_and_submit(e, "a");
    auto creates = sends(cs, Purpose::create);
    REQUIRE(creates.size() == 1);
    CHECK(creates[0].request.stream);
    const std::string s = full_stream();
    const size_t half = s.find("progress 57");
    auto progress = e.on_stream("a", std::string_view(s).substr(0, half), T0 + Millis{10});
    CHECK(e.find("a")->progress == 12);
    CHECK(e.find("a")->state == State::submitting);
    CHECK(all<Persist>(progress).size() == 1);  // a new tenth is written for `status`
    cs = e.on_http("a", Purpose::create, answer(s), T0 + Millis{100});
    const Job& job = *e.find("a");
    CHECK(job.state == State::downloading);
    CHECK(job.served_model == "sora-video-landscape-8s");
    cs = e.tick(T0 + Millis{100});
    auto downloads = all<Download>(cs);
    REQUIRE(downloads.size() == 1);
    CHECK(downloads[0].request.url == kUrl);
    CHECK_FALSE(downloads[0].request.authenticated);
    CHECK(sends(cs, Purpose::poll).empty());

    SECTION("a failed fetch fetches the same link again: there is nothing to read anew") {
        DownloadResult cut;
        cut.http.transport = TransportError::after_send;
        cs = e.on_download("a", "video", cut, T0 + Millis{200});
        cs = e.tick(T0 + Millis{10 * 60 * 1000});
        CHECK(sends(cs, Purpose::poll).empty());
        REQUIRE(all<Download>(cs).size() == 1);
        CHECK(all<Download>(cs)[0].request.url == kUrl);
    }
}

TEST_CASE("the engine: a broken stream fails as stream_lost and is never resent",
          "[chat_sse][engine]") {
    HttpResult broken;
    broken.transport = TransportError::after_send;
    broken.transport_message = "transfer closed with outstanding read data remaining";
    SECTION("by default") {
        Engine e(chat_settings(), 1);
        add_and_submit(e, "a");
        e.on_http("a", Purpose::create, broken, T0 + Millis{100});
        int creates = 0;
        for (int s = 1; s < 600; s += 7)
            creates +=
                static_cast<int>(sends(e.tick(T0 + Millis{s * 1000}), Purpose::create).size());
        CHECK(creates == 0);
        const Job& job = *e.find("a");
        REQUIRE(job.state == State::failed);
        CHECK(job.error->code == "stream_lost");
        CHECK_THAT(job.error->message, Catch::Contains("to avoid paying twice"));
        CHECK_THAT(job.error->hint, Catch::Contains("on_lost_stream"));
        CHECK(e.ledger().total() == Approx(0.8));  // it may have been billed
    }
    SECTION("a 200 whose stream ended without a video is the same") {
        Engine e(chat_settings(), 1);
        add_and_submit(e, "a");
        e.on_http("a", Purpose::create, answer(chunk({{"reasoning_content", "40%"}})),
                  T0 + Millis{100});
        e.tick(T0 + Millis{60000});
        REQUIRE(e.find("a")->state == State::failed);
        CHECK(e.find("a")->error->code == "stream_lost");
    }
    SECTION("on_lost_stream = resubmit sends it once more, reserved anew") {
        Settings s = chat_settings();
        s.providers["p"].resubmit_lost_stream = true;
        Engine e(s, 1);
        add_and_submit(e, "a");
        e.on_http("a", Purpose::create, broken, T0 + Millis{100});
        int creates = 0;
        TimePoint t = T0;
        for (int i = 1; i < 200; ++i) {
            t = T0 + Millis{i * 3000};
            for (const auto& c : sends(e.tick(t), Purpose::create)) {
                (void)c;
                ++creates;
                e.on_http("a", Purpose::create, broken, t);
            }
        }
        CHECK(creates == 1);
        REQUIRE(e.find("a")->state == State::failed);
        CHECK(e.find("a")->error->code == "stream_lost");
        CHECK(e.ledger().total() == Approx(1.6));  // both creates stay reserved
    }
}
