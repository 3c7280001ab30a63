#include "cpp/plugins/cloud/s3_xml.h"

#include <expat.h>

#include <cstring>
#include <memory>

#include "cpp/plugins/cloud/decimal.h"

namespace weightstream::cloud {
namespace {

constexpr int kMaxDepth = 16;

// Collects the text of elements by their path from the root, e.g.
// "ListBucketResult/Contents/Key", and reports each closed element.
class XmlWalker {
 public:
  virtual ~XmlWalker() = default;
  // Called when an element closes, with its path and (bounded) text.
  virtual void OnEnd(const std::string& path, const std::string& text) = 0;
  virtual void OnStart(const std::string& path) {}

  // Parses `xml`. Returns an error description, or "" on success.
  std::string Parse(std::string_view xml) {
    if (xml.size() > kMaxXmlBytes) {
      return "document over " + std::to_string(kMaxXmlBytes) + " bytes";
    }
    std::unique_ptr<XML_ParserStruct, void (*)(XML_Parser)> parser(
        XML_ParserCreate("UTF-8"), XML_ParserFree);
    if (!parser) return "out of memory";
    parser_ = parser.get();
    XML_SetUserData(parser_, this);
    XML_SetElementHandler(parser_, &XmlWalker::Start, &XmlWalker::End);
    XML_SetCharacterDataHandler(parser_, &XmlWalker::Text);
    XML_SetStartDoctypeDeclHandler(parser_, &XmlWalker::Doctype);
    XML_SetEntityDeclHandler(parser_, &XmlWalker::Entity);
    if (XML_Parse(parser_, xml.data(), static_cast<int>(xml.size()),
                  XML_TRUE) != XML_STATUS_OK) {
      if (!error_.empty()) return error_;
      return std::string("XML error at line ") +
             std::to_string(XML_GetCurrentLineNumber(parser_)) + ": " +
             XML_ErrorString(XML_GetErrorCode(parser_));
    }
    return error_;
  }

 protected:
  void Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    XML_StopParser(parser_, XML_FALSE);
  }

 public:
  const std::string& root_name() const { return root_; }

 protected:
 private:
  static void Start(void* self_ptr, const XML_Char* name, const XML_Char**) {
    auto* self = static_cast<XmlWalker*>(self_ptr);
    if (static_cast<int>(self->stack_.size()) >= kMaxDepth) {
      self->Fail("elements nested deeper than " + std::to_string(kMaxDepth));
      return;
    }
    // Namespaced documents: expat without namespace processing keeps any
    // prefix; S3 uses a default namespace, so names are plain.
    if (self->stack_.empty()) self->root_ = name;
    self->path_lengths_.push_back(self->path_.size());
    if (!self->path_.empty()) self->path_ += '/';
    self->path_ += name;
    self->stack_.emplace_back();
    self->OnStart(self->path_);
  }
  static void End(void* self_ptr, const XML_Char*) {
    auto* self = static_cast<XmlWalker*>(self_ptr);
    if (self->stack_.empty()) return;
    self->OnEnd(self->path_, self->stack_.back());
    self->stack_.pop_back();
    self->path_.resize(self->path_lengths_.back());
    self->path_lengths_.pop_back();
  }
  static void Text(void* self_ptr, const XML_Char* s, int len) {
    auto* self = static_cast<XmlWalker*>(self_ptr);
    if (self->stack_.empty()) return;
    std::string& text = self->stack_.back();
    if (text.size() + static_cast<size_t>(len) > kMaxXmlText) {
      self->Fail("element text over " + std::to_string(kMaxXmlText) + " bytes");
      return;
    }
    text.append(s, static_cast<size_t>(len));
  }
  static void Doctype(void* self_ptr, const XML_Char*, const XML_Char*,
                      const XML_Char*, int) {
    static_cast<XmlWalker*>(self_ptr)->Fail("DOCTYPE not allowed");
  }
  static void Entity(void* self_ptr, const XML_Char*, int, const XML_Char*, int,
                     const XML_Char*, const XML_Char*, const XML_Char*,
                     const XML_Char*) {
    static_cast<XmlWalker*>(self_ptr)->Fail("entity declarations not allowed");
  }

  XML_Parser parser_ = nullptr;
  std::string error_;
  std::string root_;
  std::string path_;
  std::vector<size_t> path_lengths_;
  std::vector<std::string> stack_;
};

class ListWalker : public XmlWalker {
 public:
  S3ListPage page;

  void OnStart(const std::string& path) override {
    if (path == "ListBucketResult/Contents") {
      if (page.entries.size() >= kMaxListPageEntries) {
        Fail("more than " + std::to_string(kMaxListPageEntries) +
             " entries in one page");
        return;
      }
      current_ = S3ListEntry();
      has_key_ = has_size_ = false;
    }
  }
  void OnEnd(const std::string& path, const std::string& text) override {
    if (path == "ListBucketResult/Contents/Key") {
      current_.key = text;
      has_key_ = true;
    } else if (path == "ListBucketResult/Contents/Size") {
      auto size = ParseDecimalU64(text);
      if (!size) {
        Fail("<Size> is not a byte count");
        return;
      }
      current_.size = *size;
      has_size_ = true;
    } else if (path == "ListBucketResult/Contents") {
      if (!has_key_ || current_.key.empty() || !has_size_) {
        Fail("a <Contents> without <Key> or <Size>");
        return;
      }
      page.entries.push_back(std::move(current_));
    } else if (path == "ListBucketResult/IsTruncated") {
      if (text != "true" && text != "false") {
        Fail("<IsTruncated> is not true or false");
        return;
      }
      page.truncated = text == "true";
    } else if (path == "ListBucketResult/NextContinuationToken") {
      page.next_continuation_token = text;
    }
  }

 private:
  S3ListEntry current_;
  bool has_key_ = false;
  bool has_size_ = false;
};

class ErrorWalker : public XmlWalker {
 public:
  S3ErrorDocument doc;
  void OnEnd(const std::string& path, const std::string& text) override {
    if (path == "Error/Code") doc.code = text;
    if (path == "Error/Message") doc.message = text;
  }
};

}  // namespace

StatusOr<S3ListPage> ParseListObjectsV2(std::string_view xml) {
  ListWalker walker;
  std::string error = walker.Parse(xml);
  if (error.empty() && walker.root_name() != "ListBucketResult") {
    error = "the root element is not <ListBucketResult>";
  }
  if (error.empty() && walker.page.truncated &&
      walker.page.next_continuation_token.empty()) {
    error = "<IsTruncated> is true without a <NextContinuationToken>";
  }
  if (!error.empty()) {
    return FormatError("malformed S3 listing: " + error);
  }
  return std::move(walker.page);
}

S3ErrorDocument ParseS3Error(std::string_view xml) {
  ErrorWalker walker;
  if (!walker.Parse(xml).empty()) return S3ErrorDocument();
  return walker.doc;
}

}  // namespace weightstream::cloud
