#include "cpp/plugins/cloud/options.h"

#include <gtest/gtest.h>

namespace weightstream::cloud {
namespace {

TEST(Options, Defaults) {
  auto o = ParseOptions("{}");
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_FALSE(o->endpoint_url);
  EXPECT_FALSE(o->anonymous);
  EXPECT_EQ(o->max_retries, 8);
}

TEST(Options, AllKeys) {
  auto o = ParseOptions(R"({"endpoint_url": "http://127.0.0.1:1", "region":
      "eu-west-1", "profile": "p", "ca_bundle": "/ca.pem", "anonymous": true,
      "access_key_id": "A", "secret_access_key": "S", "session_token": "T",
      "credentials_file": "/c.json", "token": "tok", "connection_string": "cs",
      "account_name": "an", "account_key": "ak", "sas_token": "sas",
      "max_retries": 0, "connect_timeout_s": 1.5, "request_timeout_s": 30})");
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(*o->endpoint_url, "http://127.0.0.1:1");
  EXPECT_EQ(*o->region, "eu-west-1");
  EXPECT_TRUE(o->anonymous);
  EXPECT_EQ(*o->secret_access_key, "S");
  EXPECT_EQ(*o->sas_token, "sas");
  EXPECT_EQ(o->max_retries, 0);
  EXPECT_DOUBLE_EQ(o->connect_timeout_s, 1.5);
  EXPECT_DOUBLE_EQ(o->request_timeout_s, 30);
}

TEST(Options, NullMeansUnset) {
  auto o = ParseOptions(R"({"region": null, "max_retries": null})");
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->region);
  EXPECT_EQ(o->max_retries, 8);
}

TEST(Options, ErrorsNameTheKeyNotTheValue) {
  struct Case {
    const char* json;
    const char* want;
  };
  for (const Case& c : {
           Case{R"({"regoin": "x"})", "unknown key 'regoin'"},
           Case{R"({"secret_access_key": 5})",
                "'secret_access_key' must be a string"},
           Case{R"({"anonymous": "yes"})", "'anonymous' must be true or false"},
           Case{R"({"max_retries": 1.5})", "'max_retries' must be an integer"},
           Case{R"({"max_retries": -1})", "'max_retries' must be between"},
           Case{R"({"max_retries": 18446744073709551615})",
                "'max_retries' must be between"},
           Case{R"({"connect_timeout_s": 0})", "'connect_timeout_s' must be"},
           Case{R"({"request_timeout_s": "60"})",
                "'request_timeout_s' must be"},
           Case{"[]", "must be a JSON object"},
           Case{"{", "not valid JSON"},
           Case{"", "not valid JSON"},
       }) {
    auto o = ParseOptions(c.json);
    ASSERT_FALSE(o.ok()) << c.json;
    EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(o.status().message().find(c.want), std::string::npos)
        << o.status().message();
  }
  auto o = ParseOptions(R"({"account_key": ["TOPSECRET"]})");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message().find("TOPSECRET"), std::string::npos);
}

}  // namespace
}  // namespace weightstream::cloud
