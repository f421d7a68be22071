"""Training TelME: the three official stages, their losses, run folders and the train/card subcommands.

    losses.py        response_distillation_loss (DIST-style), feature_distillation_loss
    stages.py        TeacherObjective, StudentObjective, FusionObjective; train_teacher/_student/_fusion
    engine.py        LoopConfig, fit (accelerate: devices, AMP, clipping, warm-up, best dev F1, resume)
    text_data.py     text_examples (the inference prompt features), TextCollator, LengthBucketBatches
    media_data.py    MediaDataset (clips through telme.clips: broken/missing/too long zeroed and reported)
    pretrained.py    teacher_from_pretrained (a transformers encoder folder + nine speaker tokens)
    pipeline.py      run folders: run_teacher, load_part, export_run (-> project bundle)
    media_stages.py  train_media_stage (students and fusion on clips)
    card.py          export_with_card (bundle + eval_dev.json + regression.json + MODEL_CARD.md); `telme card`
    cli.py           add_train_arguments/run_train: `telme train`

Dev scores come from telme.metrics; `telme evaluate` is telme.evaluation.evaluate.

Nothing is imported here: importing telme.training loads neither models nor weights.
"""
