#include "CICUShim.h"
#include <stdlib.h>
#include <unicode/ubrk.h>
#include <unicode/utext.h>

struct rag_sentence_iterator {
    UText *text;
    UBreakIterator *breaks;
};

rag_sentence_iterator *rag_sentences_open(const char *utf8, int64_t length, int32_t *status) {
    UErrorCode error = U_ZERO_ERROR;
    rag_sentence_iterator *it = calloc(1, sizeof *it);
    if (!it) { *status = U_MEMORY_ALLOCATION_ERROR; return NULL; }
    it->text = utext_openUTF8(NULL, utf8, length, &error);
    if (U_SUCCESS(error)) it->breaks = ubrk_open(UBRK_SENTENCE, "en_US@ss=standard", NULL, 0, &error);
    if (U_SUCCESS(error)) ubrk_setUText(it->breaks, it->text, &error);
    if (U_FAILURE(error)) {
        rag_sentences_close(it);
        *status = error;
        return NULL;
    }
    ubrk_first(it->breaks);
    *status = 0;
    return it;
}

int64_t rag_sentences_next(rag_sentence_iterator *it) {
    int32_t next = ubrk_next(it->breaks);
    return next == UBRK_DONE ? -1 : (int64_t)next;
}

void rag_sentences_close(rag_sentence_iterator *it) {
    if (!it) return;
    if (it->breaks) ubrk_close(it->breaks);
    if (it->text) utext_close(it->text);
    free(it);
}

const char *rag_icu_error_name(int32_t status) { return u_errorName((UErrorCode)status); }
