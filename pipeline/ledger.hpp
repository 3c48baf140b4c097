// The spend ledger: estimated costs reserved at submit, refunded when a create provably failed.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/types.hpp"

namespace vd {

struct LedgerEntry {
    TimePoint at{};
    std::string job;
    double usd = 0;  // negative for a refund
};
void to_json(nlohmann::json& j, const LedgerEntry& e);
void from_json(const nlohmann::json& j, LedgerEntry& e);

class Ledger {
  public:
    void add(const LedgerEntry& e);
    double total() const;
    double on_day(TimePoint t) const;  // the UTC day containing t
    // Why a cost may not be spent now under these caps, or nullopt when it may.
    std::optional<std::string> refuse(double usd, TimePoint now, const BudgetSettings& b) const;
    // Why a cost can never be spent under these caps: above usd_per_day, or above what is left
    // of usd_total once `refundable` (reservations that may still come back) is set aside.
    // nullopt when it may fit some day.
    std::optional<std::string> never_fits(double usd, double refundable,
                                          const BudgetSettings& b) const;
    const std::vector<LedgerEntry>& entries() const { return entries_; }

  private:
    std::vector<LedgerEntry> entries_;
    double total_ = 0;
    std::map<int64_t, double> days_;  // UTC day number -> spend
};

// Estimated cost of a job from its model table.
// Money for people: "$0.80", rounded to cents like round_cents (1.2000000000000002 -> 1.2, no
// "-0"), so floating-point noise never reaches a reader.
std::string usd(double v);
double round_cents(double usd);

double estimate_cost(const JobSpec& job, const ProviderSettings& p);

}  // namespace vd
