// capacity_test.cpp: `bench --plan`'s arithmetic (load/capacity.*) without sockets: peak
// handshakes/s, cores and beacons needed, headroom and the resumption mix, from hand-computed
// cases; and every impossible model is an input error naming its flag.
#include <gtest/gtest.h>

#include "core/files.hpp"
#include "load/capacity.hpp"

namespace mtls::load {
namespace {

FleetModel fleet(std::uint64_t devices, double per_day, double peak, double resumed) {
  FleetModel f;
  f.devices = devices;
  f.connections_per_device_per_day = per_day;
  f.connections_source = "test";
  f.peak_factor = peak;
  f.resumed_share = resumed;
  f.beacons = 2;
  f.cores_per_beacon = 4;
  f.target_utilisation = 0.5;
  return f;
}

const nlohmann::json& mode(const nlohmann::json& plan, const std::string& name) {
  for (const auto& m : plan["modes"])
    if (m["mode"] == name) return m;
  throw std::runtime_error("no mode " + name);
}

TEST(CapacityPlan, HandComputedFleet) {
  // 86,400 devices x 10 connections a day = 10 handshakes/s on average; x 3 at the peak = 30.
  const auto p = capacity_plan(fleet(86400, 10, 3, 0.5), {250, 1000, 100, "test"});
  EXPECT_DOUBLE_EQ(p["average_handshakes_per_second"].get<double>(), 10);
  EXPECT_DOUBLE_EQ(p["peak_handshakes_per_second"].get<double>(), 30);
  EXPECT_DOUBLE_EQ(p["mtls_over_server_only"].get<double>(), 4);
  // mTLS: 30/s x 1000 us = 0.03 cores; 2 beacons x 4 cores = 8 cores: headroom 8 / 0.03.
  const auto& m = mode(p, "mtls");
  EXPECT_DOUBLE_EQ(m["cores_needed_at_peak"].get<double>(), 0.03);
  EXPECT_NEAR(m["headroom"].get<double>(), 8 / 0.03, 1e-9);
  EXPECT_EQ(m["beacons_needed"].get<double>(), 1);
  EXPECT_DOUBLE_EQ(m["handshakes_per_second_per_core"].get<double>(), 1000);
  // Half resumed: 0.5 x 100 + 0.5 x 1000 = 550 us.
  EXPECT_DOUBLE_EQ(mode(p, "mtls-with-resumption")["server_cpu_us_per_handshake"].get<double>(),
                   550);
}

TEST(CapacityPlan, BeaconsNeededAtTheUtilisationTarget) {
  // 8,640,000 devices x 100 a day = 10,000/s; x 2 = 20,000/s x 1000 us = 20 cores; a beacon may
  // use 4 x 0.5 = 2 cores: 10 beacons.
  const auto p = capacity_plan(fleet(8640000, 100, 2, 0), {250, 1000, std::nullopt, "test"});
  EXPECT_DOUBLE_EQ(mode(p, "mtls")["cores_needed_at_peak"].get<double>(), 20);
  EXPECT_EQ(mode(p, "mtls")["beacons_needed"].get<double>(), 10);
  EXPECT_EQ(mode(p, "server-only")["beacons_needed"].get<double>(), 3);  // 5 cores / 2
  EXPECT_EQ(p["modes"].size(), 2u);  // no resumed measurement: no mixed mode
  EXPECT_NE(plan_text(p).find("10 beacon(s)"), std::string::npos) << plan_text(p);
}

struct BadModel {
  const char* name;
  FleetModel fleet;
  MeasuredCosts costs;
  const char* flag;
};

class ImpossibleModel : public ::testing::TestWithParam<BadModel> {};

TEST_P(ImpossibleModel, IsAnInputErrorNamingItsFlag) {
  try {
    capacity_plan(GetParam().fleet, GetParam().costs);
    FAIL() << "planned";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().flag), std::string::npos) << e.what();
  }
}

const MeasuredCosts kCosts{250, 1000, 100, "test"};

INSTANTIATE_TEST_SUITE_P(
    Flags, ImpossibleModel,
    ::testing::Values(
        BadModel{"NoDevices", fleet(0, 10, 3, 0), kCosts, "--devices"},
        BadModel{"NoConnections", fleet(10, 0, 3, 0), kCosts, "--checkins-per-day"},
        BadModel{"PeakBelowOne", fleet(10, 10, 0.5, 0), kCosts, "--peak-factor"},
        BadModel{"ShareAboveOne", fleet(10, 10, 3, 1.5), kCosts, "--resumed-share"},
        BadModel{"ResumptionNotMeasured",
                 fleet(10, 10, 3, 0.5),
                 {250, 1000, std::nullopt, "t"},
                 "--resumed-share"},
        BadModel{"NothingMeasured", fleet(10, 10, 3, 0), {0, 0, std::nullopt, "t"}, "--pid"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace mtls::load
