//! The device glue for virtio drivers: what the `virtio-drivers` crate
//! needs from the system, built on the kernel's driver capabilities
//! (README "Drivers get only what they need"), and safe, non-blocking
//! devices on top of it: a block request queue and a network card.
//!
//! Why a crate of its own: the `virtio-drivers` `Hal` trait hands out raw
//! pointers to DMA and MMIO memory, and its queue calls are `unsafe`
//! (buffers stay lent to the device until the request completes). All of
//! that `unsafe` is here, each block with its `SAFETY` argument, so the
//! drivers above (`drivers/virtio-blk`, `drivers/virtio-net`) stay
//! `#![forbid(unsafe_code)]`.
//!
//! - [`dma`]: the DMA pool (`memory:dma` buffers, carved into pages) and
//!   the [`dma::FerriteHal`] implementation of `virtio_drivers::Hal`.
//! - [`pci`]: one PCI function's configuration space through its ECAM
//!   page (`memory:pci/BB:DD.F`), its BARs mapped through
//!   `memory:physical` windows, and MSI-X through `irq:msi`.
//! - [`blk`]: a virtio block device with many requests in flight.
//! - [`net`]: a virtio network card: Ethernet frames in and out, its
//!   buffers always lent to the device.
//!
//! Set-up order (everything that opens a file happens before the driver
//! enters the null namespace): [`dma::init`], [`pci::Function::open`],
//! [`pci::Function::map_bars`], [`blk::BlockDevice::new`] (or
//! [`net::NetDevice::new`]), MSI-X; then confine and serve.
//!
//! May touch: the memory it maps through those files, the device's
//! configuration space and BARs, nothing else.

#![no_std]

extern crate alloc;

pub mod blk;
pub mod dma;
pub mod net;
pub mod pci;

pub use virtio_drivers;
