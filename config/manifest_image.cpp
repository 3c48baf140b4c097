#include "config/manifest_image.hpp"

#include <filesystem>
#include <fstream>

#include "config/manifest.hpp"

namespace vd {
namespace {

namespace fs = std::filesystem;

bool inside(const fs::path& child, const fs::path& parent) {
    auto c = child.begin();
    for (auto p = parent.begin(); p != parent.end(); ++p, ++c)
        if (c == child.end() || *c != *p) return false;
    return c != child.end();
}

}  // namespace

bool stays_inside(const std::string& dir, const std::string& path) {
    std::error_code ec, ec2;
    fs::path resolved = fs::weakly_canonical(path, ec), base = fs::canonical(dir, ec2);
    return !ec && !ec2 && inside(resolved, base);
}

std::string sniff_image(std::string_view b) {
    if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return "png";
    if (b.size() >= 3 && b.substr(0, 3) == "\xff\xd8\xff") return "jpeg";
    if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") return "webp";
    return "";
}

tl::expected<std::string, ImageProblem> check_image(const std::string& dir, const std::string& name,
                                                    int64_t max_bytes) {
    auto fail = [](std::string code, std::string message) {
        return tl::unexpected(ImageProblem{std::move(code), std::move(message)});
    };
    fs::path rel(name);
    if (name.empty()) return fail("bad_image_path", "is empty (give the image's file name)");
    if (rel.is_absolute())
        return fail("bad_image_path", name +
                                          " is an absolute path (give a name relative to the "
                                          "manifest's folder and put the image there)");
    for (const auto& part : rel)
        if (part == "..")
            return fail("bad_image_path", name +
                                              " contains \"..\" (put the image in the "
                                              "manifest's folder and give its name)");

    std::error_code ec;
    fs::path base = fs::canonical(dir, ec);
    if (ec) return fail("image_missing", "cannot open the folder " + dir + ": " + ec.message());
    fs::path full = fs::path(dir) / rel;
    if (fs::symlink_status(full, ec).type() == fs::file_type::not_found)
        return fail("image_missing",
                    name + " does not exist in " + dir + " (put it beside the manifest)");
    fs::path resolved = fs::weakly_canonical(full, ec);
    if (ec || !inside(resolved, base))
        return fail("bad_image_path", name + " is a symlink that leads outside " + dir +
                                          " (copy the image into the folder instead)");
    auto status = fs::status(resolved, ec);
    if (status.type() == fs::file_type::not_found)
        return fail("image_missing",
                    name + " is a symlink to a missing file (replace it with the image)");
    if (status.type() != fs::file_type::regular)
        return fail("bad_image_path", name + " is not a regular file (give an image file)");

    auto bytes = fs::file_size(resolved, ec);
    if (ec) return fail("image_missing", name + ": cannot read it: " + ec.message());
    if (static_cast<int64_t>(bytes) > max_bytes)
        return fail("image_too_large", name + " is " + std::to_string(bytes) +
                                           " bytes; the limit is " + std::to_string(max_bytes) +
                                           " (intake.max_image_bytes): use a smaller image");
    char head[16] = {};
    std::ifstream in(resolved, std::ios::binary);
    in.read(head, sizeof head);
    if (sniff_image(std::string_view(head, static_cast<size_t>(in.gcount()))).empty())
        return fail("image_not_supported",
                    name + " is not a PNG, JPEG or WebP image (convert it to one)");
    return resolved.string();
}

std::vector<std::string> companion_images(const std::string& dir, const std::string& stem) {
    std::vector<std::string> found;
    for (const char* ext : {".png", ".jpg", ".jpeg", ".webp"}) {
        std::error_code ec;
        std::string name = stem + ext;
        if (fs::symlink_status(fs::path(dir) / name, ec).type() != fs::file_type::not_found)
            found.push_back(name);
    }
    return found;
}

}  // namespace vd
