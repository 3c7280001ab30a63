#include "cpp/plugins/cloud/aws_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>

namespace weightstream::cloud {
namespace {

class AwsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = std::string(tmp ? tmp : "/tmp") + "/aws_config_test";
    std::string cmd = "rm -rf " + dir_ + " && mkdir -p " + dir_ + "/home/.aws";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    env_["HOME"] = dir_ + "/home";
  }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(dir_ + "/" + rel) << text;
  }
  EnvLookup Env() {
    return [this](const char* name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }
  std::string dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(AwsConfigTest, NothingConfiguredIsAnonymousWithWhereItLooked) {
  auto s = ResolveS3Settings(Options(), Env());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_FALSE(s->credentials);
  EXPECT_EQ(s->region, "us-east-1");
  EXPECT_EQ(s->endpoint_url, "");
  EXPECT_NE(s->credentials_source.find("AWS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_NE(s->credentials_source.find("/home/.aws/credentials"),
            std::string::npos);
}

TEST_F(AwsConfigTest, OrderOptionsThenEnvThenProfile) {
  Write("home/.aws/credentials",
        "[default]\naws_access_key_id = FILEID\naws_secret_access_key = "
        "FILESECRET\n");
  auto s = ResolveS3Settings(Options(), Env());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->credentials);
  EXPECT_EQ(s->credentials->access_key_id, "FILEID");
  EXPECT_NE(s->credentials_source.find("profile 'default'"), std::string::npos);
  EXPECT_EQ(s->credentials_source.find("FILESECRET"), std::string::npos);

  env_["AWS_ACCESS_KEY_ID"] = "ENVID";
  env_["AWS_SECRET_ACCESS_KEY"] = "ENVSECRET";
  env_["AWS_SESSION_TOKEN"] = "ENVTOKEN";
  s = ResolveS3Settings(Options(), Env());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->credentials->access_key_id, "ENVID");
  EXPECT_EQ(s->credentials->session_token, "ENVTOKEN");

  Options o;
  o.access_key_id = "OPTID";
  o.secret_access_key = "OPTSECRET";
  s = ResolveS3Settings(o, Env());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->credentials->access_key_id, "OPTID");
  EXPECT_EQ(s->credentials->session_token, "");

  Options anon;
  anon.anonymous = true;
  s = ResolveS3Settings(anon, Env());
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->credentials);
}

TEST_F(AwsConfigTest, NamedProfileFromCustomFiles) {
  Write("creds",
        "# comment\n[other]\naws_access_key_id=X\n"
        "aws_secret_access_key=Y\n[dev]\naws_access_key_id = DEVID\n"
        "aws_secret_access_key = DEVSECRET\naws_session_token = TOK\n"
        "s3 =\n  nested = ignored\n");
  Write("config",
        "[default]\nregion = us-west-2\n[profile dev]\nregion = "
        "eu-central-1\n");
  env_["AWS_SHARED_CREDENTIALS_FILE"] = dir_ + "/creds";
  env_["AWS_CONFIG_FILE"] = dir_ + "/config";
  env_["AWS_PROFILE"] = "dev";
  auto s = ResolveS3Settings(Options(), Env());
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_TRUE(s->credentials);
  EXPECT_EQ(s->credentials->access_key_id, "DEVID");
  EXPECT_EQ(s->credentials->secret_access_key, "DEVSECRET");
  EXPECT_EQ(s->credentials->session_token, "TOK");
  EXPECT_EQ(s->region, "eu-central-1");

  env_["AWS_DEFAULT_REGION"] = "ap-south-1";
  EXPECT_EQ(ResolveS3Settings(Options(), Env())->region, "ap-south-1");
  env_["AWS_REGION"] = "sa-east-1";
  EXPECT_EQ(ResolveS3Settings(Options(), Env())->region, "sa-east-1");
  Options o;
  o.region = "us-east-2";
  EXPECT_EQ(ResolveS3Settings(o, Env())->region, "us-east-2");

  env_["AWS_PROFILE"] = "missing";
  auto missing = ResolveS3Settings(Options(), Env());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("'missing' is not in"),
            std::string::npos);
}

TEST_F(AwsConfigTest, EndpointOrderAndBadInput) {
  env_["AWS_ENDPOINT_URL"] = "http://generic";
  EXPECT_EQ(ResolveS3Settings(Options(), Env())->endpoint_url,
            "http://generic");
  env_["AWS_ENDPOINT_URL_S3"] = "http://s3only";
  EXPECT_EQ(ResolveS3Settings(Options(), Env())->endpoint_url, "http://s3only");
  Options o;
  o.endpoint_url = "http://opt";
  EXPECT_EQ(ResolveS3Settings(o, Env())->endpoint_url, "http://opt");

  Options half;
  half.access_key_id = "A";
  EXPECT_FALSE(ResolveS3Settings(half, Env()).ok());
  Options bad_region;
  bad_region.region = "us-east-1/../x";
  EXPECT_FALSE(ResolveS3Settings(bad_region, Env()).ok());
}

TEST(Ini, Parses) {
  IniFile ini = ParseIni("[a]\nK = v = w\n;c\n#c\n[b]\nx=1\r\nnovalue\n");
  EXPECT_EQ(ini["a"]["k"], "v = w");
  EXPECT_EQ(ini["b"]["x"], "1");
  EXPECT_EQ(ini["b"].count("novalue"), 0u);
}

}  // namespace
}  // namespace weightstream::cloud
