#ifndef CICUSHIM_H
#define CICUSHIM_H
// ICU sentence breaks for Swift. Only <stdint.h> types cross this header: Foundation carries its
// own ICU, and a Swift module cannot see both sets of <unicode/*.h> declarations.
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rag_sentence_iterator rag_sentence_iterator;

/// Opens a sentence iterator over `length` bytes of UTF-8 at `utf8` (not copied: keep it alive).
/// Locale `en_US@ss=standard` keeps abbreviations such as "Mr." and "e.g." inside sentences.
/// Returns NULL and sets `*status` to the ICU error code on failure.
rag_sentence_iterator *rag_sentences_open(const char *utf8, int64_t length, int32_t *status);

/// The UTF-8 byte offset of the next sentence boundary, or -1 when the text is exhausted.
int64_t rag_sentences_next(rag_sentence_iterator *iterator);

void rag_sentences_close(rag_sentence_iterator *iterator);

/// ICU's name for an error code, for messages.
const char *rag_icu_error_name(int32_t status);

#ifdef __cplusplus
}
#endif
#endif
