#include "cpp/plugins/cloud/azure_connection_string.h"

#include <gtest/gtest.h>

namespace weightstream::cloud {
namespace {

TEST(AzureConnectionString, FullForm) {
  auto cs = ParseAzureConnectionString(
      "DefaultEndpointsProtocol=http; AccountName=acct;"
      "AccountKey=abc+/def==;BlobEndpoint=http://127.0.0.1:1234/acct/;"
      "QueueEndpoint=http://127.0.0.1:1235/acct;EndpointSuffix=core.example;");
  ASSERT_TRUE(cs.ok()) << cs.status().message();
  EXPECT_EQ(cs->protocol, "http");
  EXPECT_EQ(cs->account_name, "acct");
  EXPECT_EQ(cs->account_key, "abc+/def==");  // '=' inside values survives.
  EXPECT_EQ(cs->blob_endpoint, "http://127.0.0.1:1234/acct");
  EXPECT_EQ(cs->endpoint_suffix, "core.example");
}

TEST(AzureConnectionString, KeysCaseInsensitiveAndSas) {
  auto cs = ParseAzureConnectionString(
      "accountname=a;sharedaccesssignature=?sv=2021&sig=S%3D");
  ASSERT_TRUE(cs.ok());
  EXPECT_EQ(cs->account_name, "a");
  EXPECT_EQ(cs->shared_access_signature, "sv=2021&sig=S%3D");
  EXPECT_EQ(cs->protocol, "https");
  EXPECT_EQ(cs->endpoint_suffix, "core.windows.net");
}

TEST(AzureConnectionString, DevelopmentStorage) {
  auto cs = ParseAzureConnectionString("UseDevelopmentStorage=true");
  ASSERT_TRUE(cs.ok());
  EXPECT_EQ(cs->account_name, "devstoreaccount1");
  EXPECT_EQ(cs->account_key, kAzuriteKey);
  EXPECT_EQ(cs->blob_endpoint, "http://127.0.0.1:10000/devstoreaccount1");
}

TEST(AzureConnectionString, ErrorsNeverQuoteValues) {
  auto cs = ParseAzureConnectionString("AccountName=a;SECRETVALUE");
  ASSERT_FALSE(cs.ok());
  EXPECT_EQ(cs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(cs.status().message().find("segment 2"), std::string::npos);
  EXPECT_EQ(cs.status().message().find("SECRETVALUE"), std::string::npos);

  cs = ParseAzureConnectionString(
      "DefaultEndpointsProtocol=SECRETftp;AccountName=a");
  ASSERT_FALSE(cs.ok());
  EXPECT_EQ(cs.status().message().find("SECRET"), std::string::npos);

  EXPECT_FALSE(ParseAzureConnectionString("").ok());
  EXPECT_FALSE(ParseAzureConnectionString(";;").ok());
  EXPECT_FALSE(ParseAzureConnectionString("AccountKey=k").ok());  // No account.
  EXPECT_FALSE(ParseAzureConnectionString("=v;AccountName=a").ok());
}

}  // namespace
}  // namespace weightstream::cloud
