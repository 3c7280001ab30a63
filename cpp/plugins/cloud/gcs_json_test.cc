#include "cpp/plugins/cloud/gcs_json.h"

#include <gtest/gtest.h>

#include <random>

namespace weightstream::cloud {
namespace {

TEST(GcsJson, ObjectResource) {
  auto o = ParseGcsObject(
      R"({"kind":"storage#object","name":"dir/a.safetensors","size":"1234",)"
      R"("generation":"1700000000123456"})");
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->name, "dir/a.safetensors");
  EXPECT_EQ(o->size, 1234u);
  EXPECT_EQ(o->generation, "1700000000123456");
  // The emulator sends the size as a number.
  o = ParseGcsObject(R"({"name":"a","size":18446744073709551615})");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->size, 18446744073709551615u);
  EXPECT_EQ(o->generation, "");
}

void ExpectBadObject(const std::string& body, const std::string& fragment) {
  auto o = ParseGcsObject(body);
  ASSERT_FALSE(o.ok()) << body;
  EXPECT_EQ(o.status().code(), StatusCode::kFormat);
  EXPECT_NE(o.status().message().find(fragment), std::string::npos)
      << o.status().message();
  EXPECT_LT(o.status().message().size(), 600u);
}

TEST(GcsJson, HostileObjects) {
  ExpectBadObject("", "not JSON");
  ExpectBadObject("[1]", "not a JSON object");
  ExpectBadObject(R"({"name":"a"})", "no decimal size");
  ExpectBadObject(R"({"name":"a","size":"-1"})", "no decimal size");
  ExpectBadObject(R"({"name":"a","size":-1})", "no decimal size");
  ExpectBadObject(R"({"name":"a","size":"18446744073709551616"})",
                  "no decimal size");
  ExpectBadObject(R"({"name":"a","size":1.5})", "no decimal size");
  ExpectBadObject(R"({"name":"a","size":"1 "})", "no decimal size");
  ExpectBadObject(R"({"name":"a","size":"1","generation":"x"})",
                  "generation that is not decimal");
  ExpectBadObject(R"({"name":7,"size":"1"})", "name is not a string");
  ExpectBadObject("{\"name\":\"" + std::string(2000, 'n') + "\",\"size\":1}",
                  "longer than 1024");
  ExpectBadObject(std::string(100000, '[') + std::string(100000, ']'),
                  "not JSON");
  ExpectBadObject(R"({"name":"a","size":"1")", "not JSON");
}

TEST(GcsJson, ListPage) {
  auto page = ParseGcsListPage(
      R"({"kind":"storage#objects","nextPageToken":"CgRkaXIv",)"
      R"("items":[{"name":"dir/a","size":"1"},{"name":"dir/b","size":"22",)"
      R"("generation":"5"}]})");
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[1].name, "dir/b");
  EXPECT_EQ(page->items[1].size, 22u);
  EXPECT_EQ(page->next_page_token, "CgRkaXIv");
  page = ParseGcsListPage(R"({"kind":"storage#objects","prefixes":[]})");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
  EXPECT_TRUE(page->next_page_token.empty());

  for (const char* bad :
       {"", "null", R"({"items":{}})", R"({"items":[{"size":"1"}]})",
        R"({"items":[{"name":"a"}]})", R"({"items":[7]})",
        R"({"nextPageToken":5})", R"({"items":[{"name":"a","size":"1"})"}) {
    auto r = ParseGcsListPage(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kFormat);
  }
  // Quotes inside strings do not fool the nesting check.
  page = ParseGcsListPage(R"({"items":[{"name":"[[[\"{{","size":1}]})");
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_EQ(page->items[0].name, "[[[\"{{");
}

TEST(GcsJson, ErrorBody) {
  GcsErrorBody e = ParseGcsError(
      R"({"error":{"code":403,"message":"a@b does not have storage.objects.get)"
      R"( access","errors":[{"reason":"forbidden"}]}})");
  EXPECT_EQ(e.reason, "forbidden");
  EXPECT_EQ(e.message.substr(0, 3), "a@b");
  e = ParseGcsError(R"({"error":{"code":401,"status":"UNAUTHENTICATED"}})");
  EXPECT_EQ(e.reason, "UNAUTHENTICATED");
  e = ParseGcsError("<html>Not Found</html>");
  EXPECT_TRUE(e.reason.empty());
  EXPECT_TRUE(e.message.empty());
}

TEST(GcsJson, MutatedPagesNeverCrash) {
  const std::string page =
      R"({"kind":"storage#objects","nextPageToken":"CgRkaXIv",)"
      R"("items":[{"name":"dir/a","size":"1","generation":"7"},)"
      R"({"name":"dir/b\u00e9\n","size":22}]})";
  std::mt19937 rng(20261122);
  int ok = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string doc = page;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !doc.empty(); ++e) {
      size_t at = rng() % doc.size();
      switch (rng() % 4) {
        case 0:
          doc[at] = static_cast<char>(rng());
          break;
        case 1:
          doc.resize(at);
          break;
        case 2:
          doc.insert(at, doc.substr(rng() % doc.size(), rng() % 64));
          break;
        default:
          doc.erase(at, rng() % 16);
          break;
      }
    }
    auto parsed = ParseGcsListPage(doc);
    if (parsed.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(parsed.status().code(), StatusCode::kFormat);
      EXPECT_LT(parsed.status().message().size(), 600u);
    }
    (void)ParseGcsObject(doc);
    ParseGcsError(doc);
  }
  EXPECT_GT(ok, 0);
}

}  // namespace
}  // namespace weightstream::cloud
