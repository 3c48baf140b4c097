#include "pipeline/ledger.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace vd {

namespace {

constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;

int64_t day_of(TimePoint t) {
    int64_t ms = to_ms(t);
    return ms >= 0 ? ms / kDayMs : (ms - kDayMs + 1) / kDayMs;
}

}  // namespace

double round_cents(double usd) {
    if (!std::isfinite(usd)) return usd;
    double r = std::round(usd * 100) / 100;
    return r == 0 ? 0.0 : r;  // no "-0" in the output
}

std::string usd(double v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, round_cents(v), std::chars_format::fixed, 2);
    return "$" + std::string(buf, r.ptr);
}

void to_json(nlohmann::json& j, const LedgerEntry& e) {
    j = {{"at", to_ms(e.at)}, {"job", e.job}, {"usd", e.usd}};
}

void from_json(const nlohmann::json& j, LedgerEntry& e) {
    e.at = from_ms(j.at("at").get<int64_t>());
    e.job = j.value("job", "");
    e.usd = j.at("usd").get<double>();
}

void Ledger::add(const LedgerEntry& e) {
    entries_.push_back(e);
    total_ += e.usd;
    days_[day_of(e.at)] += e.usd;
}

double Ledger::total() const {
    return total_;
}

double Ledger::on_day(TimePoint t) const {
    auto it = days_.find(day_of(t));
    return it == days_.end() ? 0 : it->second;
}

std::optional<std::string> Ledger::refuse(double cost, TimePoint now,
                                          const BudgetSettings& b) const {
    // A small epsilon keeps float sums of cents from refusing an exact fit.
    constexpr double kEps = 1e-9;
    if (b.usd_total > 0 && total() + cost > b.usd_total + kEps)
        return usd(cost) + " would cross usd_total " + usd(b.usd_total) + " (spent " +
               usd(total()) + ")";
    if (b.usd_per_day > 0 && on_day(now) + cost > b.usd_per_day + kEps)
        return usd(cost) + " would cross usd_per_day " + usd(b.usd_per_day) + " (spent today " +
               usd(on_day(now)) + ")";
    return std::nullopt;
}

std::optional<std::string> Ledger::never_fits(double cost, double refundable,
                                              const BudgetSettings& b) const {
    constexpr double kEps = 1e-9;
    if (cost <= 0) return std::nullopt;
    if (b.usd_per_day > 0 && cost > b.usd_per_day + kEps)
        return "the estimate " + usd(cost) + " is more than usd_per_day " + usd(b.usd_per_day) +
               ": no day can ever fit it";
    if (b.usd_total <= 0) return std::nullopt;
    if (cost > b.usd_total + kEps)
        return "the estimate " + usd(cost) + " is more than usd_total " + usd(b.usd_total);
    double spent = total() - refundable;
    if (cost + spent > b.usd_total + kEps)
        return "the estimate " + usd(cost) + " does not fit what is left of usd_total " +
               usd(b.usd_total) + " (" + usd(std::max(0.0, b.usd_total - spent)) + " left after " +
               usd(spent) + " spent)";
    return std::nullopt;
}

double estimate_cost(const JobSpec& job, const ProviderSettings& p) {
    auto it = p.models.find(job.model);
    if (it == p.models.end()) return 0;
    return it->second.usd_per_second * job.seconds;
}

}  // namespace vd
