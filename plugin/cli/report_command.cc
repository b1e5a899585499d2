// `credence report`: DMARC aggregate reports, both ways. A parent with nested subcommands,
// each its own Command in its own file: `report aggregate` (report_aggregate_command.cc) sends
// RFC 9990 aggregate reports from the evaluation history; `report read`
// (report_read_command.cc) reads the reports a domain owner receives.
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>

#include "command.h"

namespace credence::cli {
namespace {

class ReportCommand final : public Command {
 public:
  ReportCommand() {
    children_.push_back(MakeReportAggregateCommand());
    children_.push_back(MakeReportReadCommand());
  }

  CLI::App* Register(CLI::App& parent) override {
    CLI::App* app = parent.add_subcommand(
        "report", "DMARC aggregate reports (RFC 9990): send them from the evaluation history, "
                  "read the ones you receive");
    app->require_subcommand(1);
    app->footer("Exit codes: those of the subcommand (`credence report aggregate --help`, "
                "`credence report read --help`); 2 usage. See docs/reports.md.");
    for (auto& c : children_) subs_.push_back(c->Register(*app));
    return app;
  }

  int Run() override {
    for (size_t i = 0; i < children_.size(); ++i) {
      if (subs_[i]->parsed()) return children_[i]->Run();
    }
    return kExitUsage;
  }

 private:
  std::vector<std::unique_ptr<Command>> children_;
  std::vector<CLI::App*> subs_;
};

}  // namespace

std::unique_ptr<Command> MakeReportCommand() { return std::make_unique<ReportCommand>(); }

}  // namespace credence::cli
