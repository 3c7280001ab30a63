#include "cpp/plugins/cloud/azure_listing.h"

#include <expat.h>

#include <cstring>
#include <optional>

#include "cpp/plugins/cloud/decimal.h"
#include "cpp/plugins/cloud/url.h"

namespace weightstream::cloud {
namespace {

constexpr size_t kMaxDepth = 32;
constexpr size_t kMaxText = 4096;
constexpr size_t kMaxBlobs = 100000;

// Collects the text of elements by their path from the root and calls
// `on_end` when an element closes. Stops the parse on the first violation.
class XmlWalker {
 public:
  virtual ~XmlWalker() = default;

  Status Parse(std::string_view xml) {
    XML_Parser parser = XML_ParserCreate("UTF-8");
    if (parser == nullptr) return ResourceExhaustedError("XML parser");
    parser_ = parser;
    XML_SetUserData(parser, this);
    XML_SetElementHandler(parser, &XmlWalker::Start, &XmlWalker::End);
    XML_SetCharacterDataHandler(parser, &XmlWalker::Text);
    XML_SetStartDoctypeDeclHandler(parser, &XmlWalker::Doctype);
    XML_Status rc =
        XML_Parse(parser, xml.data(), static_cast<int>(xml.size()), XML_TRUE);
    Status result;
    if (!error_.empty()) {
      result = FormatError(error_);
    } else if (rc != XML_STATUS_OK) {
      result = FormatError(std::string("malformed XML at line ") +
                           std::to_string(XML_GetCurrentLineNumber(parser)) +
                           ": " + XML_ErrorString(XML_GetErrorCode(parser)));
    }
    XML_ParserFree(parser);
    parser_ = nullptr;
    return result;
  }

 protected:
  // Called with the path ("EnumerationResults/Blobs/Blob/Name"), the text
  // and the element's attributes when an element closes.
  virtual void OnEnd(const std::string& path, const std::string& text,
                     bool encoded) = 0;
  virtual void OnStart(const std::string& path) {}

  void Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    XML_StopParser(parser_, XML_FALSE);
  }

 private:
  struct Frame {
    size_t path_length;
    std::string text;
    bool encoded;
  };

  static void Start(void* self_ptr, const XML_Char* name,
                    const XML_Char** attributes) {
    auto* self = static_cast<XmlWalker*>(self_ptr);
    if (self->stack_.size() >= kMaxDepth) {
      self->Fail("XML nested deeper than 32 elements");
      return;
    }
    bool encoded = false;
    for (size_t i = 0; attributes[i] != nullptr && attributes[i + 1] != nullptr;
         i += 2) {
      if (std::strcmp(attributes[i], "Encoded") == 0 &&
          std::strcmp(attributes[i + 1], "true") == 0) {
        encoded = true;
      }
    }
    self->stack_.push_back({self->path_.size(), std::string(), encoded});
    if (!self->path_.empty()) self->path_ += '/';
    self->path_ += name;
    self->OnStart(self->path_);
  }

  static void End(void* self_ptr, const XML_Char* name) {
    auto* self = static_cast<XmlWalker*>(self_ptr);
    if (self->stack_.empty()) return;
    Frame frame = std::move(self->stack_.back());
    self->stack_.pop_back();
    self->OnEnd(self->path_, frame.text, frame.encoded);
    self->path_.resize(frame.path_length);
  }

  static void Text(void* self_ptr, const XML_Char* s, int length) {
    auto* self = static_cast<XmlWalker*>(self_ptr);
    if (self->stack_.empty()) return;
    std::string& text = self->stack_.back().text;
    if (text.size() + static_cast<size_t>(length) > kMaxText) {
      self->Fail("XML element text longer than 4096 bytes in " +
                 QuoteUntrusted(self->path_));
      return;
    }
    text.append(s, static_cast<size_t>(length));
  }

  static void Doctype(void* self_ptr, const XML_Char*, const XML_Char*,
                      const XML_Char*, int) {
    static_cast<XmlWalker*>(self_ptr)->Fail(
        "XML with a DOCTYPE is refused (entities are not expected here)");
  }

  XML_Parser parser_ = nullptr;
  std::string path_;
  std::vector<Frame> stack_;
  std::string error_;
};

class BlobListWalker : public XmlWalker {
 public:
  AzureBlobPage page;

 protected:
  void OnStart(const std::string& path) override {
    if (path == "EnumerationResults/Blobs/Blob") {
      if (page.blobs.size() >= kMaxBlobs) {
        Fail("listing page holds more than 100000 blobs");
        return;
      }
      current_ = AzureBlobEntry();
      have_name_ = have_size_ = false;
    }
  }

  void OnEnd(const std::string& path, const std::string& text,
             bool encoded) override {
    if (path == "EnumerationResults/Blobs/Blob/Name") {
      if (encoded) {
        auto decoded = PercentDecode(text);
        if (!decoded) {
          Fail("blob name with a malformed percent-encoding: " +
               QuoteUntrusted(text));
          return;
        }
        current_.name = std::move(*decoded);
      } else {
        current_.name = text;
      }
      have_name_ = true;
    } else if (path ==
               "EnumerationResults/Blobs/Blob/Properties/Content-Length") {
      auto size = ParseDecimalU64(text);
      if (!size) {
        Fail("blob Content-Length is not a decimal size: " +
             QuoteUntrusted(text));
        return;
      }
      current_.size = *size;
      have_size_ = true;
    } else if (path == "EnumerationResults/Blobs/Blob") {
      if (!have_name_ || current_.name.empty()) {
        Fail("listed blob without a Name");
        return;
      }
      if (!have_size_) {
        Fail("listed blob " + QuoteUntrusted(current_.name) +
             " without a Content-Length");
        return;
      }
      page.blobs.push_back(std::move(current_));
    } else if (path == "EnumerationResults/NextMarker") {
      page.next_marker = text;
    } else if (path == "EnumerationResults") {
      seen_root_ = true;
    }
  }

 public:
  bool seen_root_ = false;

 private:
  AzureBlobEntry current_;
  bool have_name_ = false;
  bool have_size_ = false;
};

class ErrorWalker : public XmlWalker {
 public:
  AzureErrorBody body;

 protected:
  void OnEnd(const std::string& path, const std::string& text, bool) override {
    if (path == "Error/Code") body.code = text;
    if (path == "Error/Message") body.message = text;
  }
};

}  // namespace

StatusOr<AzureBlobPage> ParseAzureBlobList(std::string_view xml) {
  BlobListWalker walker;
  WS_RETURN_IF_ERROR(walker.Parse(xml));
  if (!walker.seen_root_) {
    return FormatError("listing is not an EnumerationResults document");
  }
  return std::move(walker.page);
}

AzureErrorBody ParseAzureError(std::string_view xml) {
  ErrorWalker walker;
  if (!walker.Parse(xml).ok()) return AzureErrorBody();
  return walker.body;
}

}  // namespace weightstream::cloud
