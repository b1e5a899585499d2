// `credence report ...`: DMARC reports. The parent command only dispatches to its nested
// subcommands: `aggregate` (report_aggregate_command.cc: send RFC 9990 aggregate reports from
// the evaluation history) and `read` (reading the reports a domain owner receives).
#include <CLI/CLI.hpp>
#include <memory>
#include <vector>

#include "command.h"

namespace credence::cli {
namespace {

class ReportCommand final : public Command {
 public:
  CLI::App* Register(CLI::App& parent) override {
    CLI::App* app = parent.add_subcommand("report",
                                          "DMARC reports (RFC 9990): send aggregate "
                                          "reports from the evaluation history");
    app->require_subcommand(1);
    children_.push_back(MakeReportAggregateCommand());
    for (auto& c : children_) apps_.push_back(c->Register(*app));
    return app;
  }

  int Run() override {
    for (size_t i = 0; i < children_.size(); ++i) {
      if (apps_[i]->parsed()) return children_[i]->Run();
    }
    return kExitUsage;
  }

 private:
  std::vector<std::unique_ptr<Command>> children_;
  std::vector<CLI::App*> apps_;
};

}  // namespace

std::unique_ptr<Command> MakeReportCommand() { return std::make_unique<ReportCommand>(); }

}  // namespace credence::cli
