//! berth-volumes: named volumes, bind mounts, tmpfs and copy-up of image content (DESIGN.md §6).
//! Empty until the volumes issue lands.
