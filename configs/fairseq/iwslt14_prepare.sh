#!/usr/bin/env bash
# IWSLT-14 German-English as fairseq's translation example prepares it (needs internet:
# it clones mosesdecoder and subword-nmt and downloads the corpus), then binarises it.
#     bash configs/fairseq/iwslt14_prepare.sh            # -> data-bin/iwslt14.tokenized.de-en
set -euo pipefail
FAIRSEQ_DIR=$(python -c 'import fairseq, os; print(os.path.dirname(fairseq.__file__))')
WORK=${WORK:-data/iwslt14}
mkdir -p "$WORK"
cp "$FAIRSEQ_DIR/examples/translation/prepare-iwslt14.sh" "$WORK/"
(cd "$WORK" && bash prepare-iwslt14.sh)
TEXT="$WORK/iwslt14.tokenized.de-en"
fairseq-preprocess --source-lang de --target-lang en \
    --trainpref "$TEXT/train" --validpref "$TEXT/valid" --testpref "$TEXT/test" \
    --destdir data-bin/iwslt14.tokenized.de-en --workers 8
