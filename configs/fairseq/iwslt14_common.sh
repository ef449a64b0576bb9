# Sourced by the iwslt14_{transformer,lstm1,lstm2}.sh recipes: data, criterion and SLF options.
#   DATA       binarised data (default data-bin/iwslt14.tokenized.de-en, see iwslt14_prepare.sh)
#   CRITERION  slf (default) or label_smoothed_cross_entropy, the baseline
#   SAVE_DIR   checkpoints (default checkpoints/<recipe>_<criterion>)
# Arguments given to a recipe are passed on to fairseq-train (e.g. --max-epoch 50 --cpu).
DATA=${DATA:-data-bin/iwslt14.tokenized.de-en}
CRITERION=${CRITERION:-slf}
# The best checkpoint by validation nll_loss: slf's loss mixes candidates whose weights move,
# so its values are not comparable from epoch to epoch (the same metric for the baseline).
CRITERION_ARGS=(--best-checkpoint-metric nll_loss)
if [ "$CRITERION" = slf ]; then
    # SLF's default recipe: each candidate's gradient against the held-out NLL's on the valid split.
    # (The paper's literal update, --slf-mode joint, collapsed onto mae on the Ding corpus: RESULTS.md.)
    CRITERION_ARGS+=(--user-dir "$(slf fairseq-user-dir)" --slf-candidates label_smoothed_nll,focal,poly1,mae)
fi
