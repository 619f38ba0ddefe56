"""Patient attachments: files in a patient's record, kept through the ``BlobStore`` port."""
